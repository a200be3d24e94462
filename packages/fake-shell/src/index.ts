// @arbor/fake-shell: a busybox-like sh and applets for demos of the fake backend (@arbor/backend-fake).
export { APPLETS } from './applets/applets';
export { fakeShellModule } from './fake-shell-module';
export { SHELL_PROGRAMS } from './shell-programs';
