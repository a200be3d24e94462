// What the runc backend's integration specs share: the backend composed as arbord composes it,
// and running a process to its end with its output.
import { Writable } from 'node:stream';
import { ContainerModule } from 'inversify';
import { TOKENS, composeBackend } from '@arbor/core';
import type { Container, Containerizer, Gardener, ProcessSpec } from '@arbor/core';
import { loopbackOnlyNetworkerModule } from '@arbor/host';
import type { RuncBackendConfig } from '../runc-backend-config';
import { runcBackendModules } from '../runc-backend-module';

/** Collector is a Writable that keeps what it was given. */
class Collector extends Writable {
  private readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk);
    done();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** runToEnd runs a process and returns its exit code and output. */
export async function runToEnd(container: Container, spec: ProcessSpec): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Collector();
  const stderr = new Collector();
  const code = await (await container.run(spec, { stdout, stderr })).wait();
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/**
 * runcBackendFor composes the runc backend as arbord does, over stateDir, with a
 * LoopbackOnlyNetworker (no host network changes); containerizer, when given, replaces the
 * backend's own (a test that also calls it directly). Call start() first.
 */
export async function runcBackendFor(stateDir: string, overrides: Partial<RuncBackendConfig> = {}, containerizer?: Containerizer): Promise<Gardener> {
  const config: RuncBackendConfig = { stateDir, defaultRootfs: '', ...overrides };
  const own = containerizer && new ContainerModule(({ rebindSync }) => void rebindSync<Containerizer>(TOKENS.Containerizer).toConstantValue(containerizer));
  const { backend } = await composeBackend(runcBackendModules, config, { overrides: [loopbackOnlyNetworkerModule, ...(own ? [own] : [])] });
  return backend;
}
