// profile-cycle: where the time of one create + run `true` + destroy goes, port by port.
// It composes the linux backend as arbord does (composeBackend, no gRPC), with every port,
// the cgroup driver and the helper runner wrapped in timers, runs the cycle RUNS times and
// prints the p50 of each call. Run as root after a build:
//   node packages/backend-linux/dist/testing/profile-cycle.js [runs]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerModule } from 'inversify';
import { TOKENS, composeBackend } from '@arbor/core';
import type { Containerizer, Depot, Networker, Volumizer } from '@arbor/core';
import { DEFAULT_BUSYBOX, HelperRunner, HostContainerizer, hostCgroupDriver } from '@arbor/host';
import type { LinuxNetworker } from '@arbor/network';
import { linuxBackendModules } from '../linux-backend-module';
import type { LinuxBackendConfig } from '../linux-backend-config';
import { NamespaceRuntime } from '../namespace-runtime';

const samples = new Map<string, number[]>();

function record(name: string, ms: number): void {
  const list = samples.get(name) ?? [];
  list.push(ms);
  samples.set(name, list);
}

/** timed wraps every method of target so each call's duration is recorded as '<label>.<method>'. */
function timed<T extends object>(label: string, target: T): T {
  return new Proxy(target, {
    get(obj, key, receiver) {
      const value = Reflect.get(obj, key, receiver) as unknown;
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      return (...args: unknown[]) => {
        const start = process.hrtime.bigint();
        const result = (value as (...a: unknown[]) => unknown).apply(obj, args);
        const name = key === 'run' && typeof args[0] === 'string' && label === 'helpers' ? `helpers.${args[0]}` : `${label}.${key}`;
        if (result instanceof Promise) {
          return result.finally(() => record(name, Number(process.hrtime.bigint() - start) / 1e6));
        }
        record(name, Number(process.hrtime.bigint() - start) / 1e6);
        return result;
      };
    },
  });
}

/** timeMethods records the calls of internal methods too, like '(init).waitGone'. */
function timeMethods(label: string, proto: object, names: string[]): void {
  for (const name of names) {
    const original = (proto as Record<string, unknown>)[name];
    if (typeof original !== 'function') continue;
    (proto as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
      const start = process.hrtime.bigint();
      const result = (original as (...a: unknown[]) => unknown).apply(this, args);
      if (result instanceof Promise) return result.finally(() => record(`(${label}).${name}`, Number(process.hrtime.bigint() - start) / 1e6));
      record(`(${label}).${name}`, Number(process.hrtime.bigint() - start) / 1e6);
      return result;
    };
  }
}

function p50(list: number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length / 2) - 1] ?? NaN;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 30);
  timeMethods('host', HostContainerizer.prototype, ['killSupervisors', 'liveState', 'saveState', 'channel']);
  timeMethods('ns', NamespaceRuntime.prototype, ['startInit', 'removeInit']);
  const stateDir = await mkdtemp(join(tmpdir(), 'arbor-profile-'));
  const cgroups = timed('cgroups', hostCgroupDriver());
  const helpers = timed('helpers', new HelperRunner());
  const containerizer = new HostContainerizer({
    runtime: new NamespaceRuntime(cgroups, helpers),
    stateDir,
    cgroups,
    helpers,
    busybox: DEFAULT_BUSYBOX,
    stopTimeoutMs: 1000,
  });
  let networker: LinuxNetworker | undefined;
  // each port the linux backend binds, wrapped in a timer; the containerizer is this one, over timed cgroups and helpers
  const timers = new ContainerModule(({ onActivation, rebindSync }) => {
    rebindSync<Containerizer>(TOKENS.Containerizer).toConstantValue(timed('containerizer', containerizer));
    onActivation<Networker>(TOKENS.Networker, (_context, port) => {
      networker = port as LinuxNetworker;
      return timed('networker', port);
    });
    onActivation<Volumizer>(TOKENS.Volumizer, (_context, port) => timed('volumizer', port));
    onActivation<Depot>(TOKENS.Depot, (_context, port) => timed('depot', port));
  });
  const config: LinuxBackendConfig = { stateDir, defaultRootfs: '' };
  const { backend: gardener } = await composeBackend(linuxBackendModules, config, { overrides: [timers] });
  await gardener.start();
  try {
    const cycle = async (i: number): Promise<void> => {
      let start = process.hrtime.bigint();
      const c = await gardener.create({ handle: `profile-${i}` });
      record('=create', Number(process.hrtime.bigint() - start) / 1e6);
      start = process.hrtime.bigint();
      await (await c.run({ path: 'true' }, {})).wait();
      record('=run', Number(process.hrtime.bigint() - start) / 1e6);
      start = process.hrtime.bigint();
      await gardener.destroy(c.handle);
      record('=destroy', Number(process.hrtime.bigint() - start) / 1e6);
    };
    await cycle(-1);
    samples.clear();
    for (let i = 0; i < runs; i++) {
      const start = process.hrtime.bigint();
      await cycle(i);
      record('=cycle', Number(process.hrtime.bigint() - start) / 1e6);
    }
  } finally {
    await gardener.stop();
    await networker?.removeAll().catch(() => undefined);
    await networker?.close();
    await rm(stateDir, { recursive: true, force: true });
  }
  const rows = [...samples.entries()].sort(([a], [b]) => a.localeCompare(b));
  console.log(`p50 of ${runs} cycles, ms (calls per cycle)`);
  for (const [name, list] of rows) console.log(`${name.padEnd(28)} ${p50(list).toFixed(2).padStart(8)}  (${(list.length / runs).toFixed(1)})`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
