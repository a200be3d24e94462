import { FAKE_PROGRAM_RUNNER, type ProgramRunner } from '@arbor/backend-fake';
import { ContainerModule } from 'inversify';
import { SHELL_PROGRAMS } from './shell-programs';

/**
 * fakeShellModule gives the fake backend's containers the demo shell: composed beside
 * fakeBackendModule (composeBackend([fakeBackendModule, fakeShellModule], config)), their
 * exec runs SHELL_PROGRAMS instead of probes only.
 */
export const fakeShellModule = new ContainerModule(({ bind }) => {
  bind<ProgramRunner>(FAKE_PROGRAM_RUNNER).toConstantValue(SHELL_PROGRAMS);
});
