import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { InvalidArgumentError } from '@arbor/core';
import type { Container, Gardener, Process, ProcessSpec } from '@arbor/core';
import { Collector, describeIf, filesHolding, hostCmdlines, tarOf, waitFor } from '@arbor/testkit';
import type { HostNeeds } from '@arbor/testkit';
import type { HostContainerizer } from '../host-containerizer';

/** ContainerizerUnderTest is a started backend over containerizer, in stateDir (a fresh temp dir). */
export interface ContainerizerUnderTest {
  stateDir: string;
  containerizer: HostContainerizer;
  /** backend is a Gardener composed over containerizer, started. */
  backend: Gardener;
}

/**
 * StartContainerizer composes a backend over a fresh containerizer of one runtime, in stateDir,
 * like (dir) => { const c = runcContainerizer({ stateDir: dir, ... }); return { containerizer: c, backend: await runcBackendFor(dir, {}, c) }; }.
 * The backend is not started yet.
 */
export type StartContainerizer = (stateDir: string) => Promise<Omit<ContainerizerUnderTest, 'stateDir'>>;

/** HostileOptions say where runtimes differ and what a runtime adds. */
export interface HostileOptions {
  /** highestId is the highest uid and gid the runtime runs a process of a privileged container as: 4294967294 for namespaces, 2147483647 for runc (its own range check). */
  highestId: number;
  /** more declares the runtime's own tests in the same block, with the running setup from under(). */
  more?: (under: () => ContainerizerUnderTest) => void;
}

/**
 * describeHostContainerizerHostile declares, gated on needs, the hostile process specs that
 * reach a HostContainerizer directly, as if the Gardener's checks were gone, so that arbor-exec's
 * own strictness under that runtime is what is tested (hostile input issue, items 1, 3 and 9
 * and the working dir): NULs in helper options, secrets on host command lines or disk,
 * out-of-range uids, a relative working dir. Both host runtimes (namespaces, runc) call it.
 */
export function describeHostContainerizerHostile(name: string, needs: HostNeeds, start: StartContainerizer, options: HostileOptions): void {
  describeIf(needs)(`${name}: hostile process specs that reach the containerizer`, () => {
    jest.setTimeout(60_000);
    let setup: ContainerizerUnderTest | undefined;
    let ids = 0;
    const under = (): ContainerizerUnderTest => {
      if (!setup) throw new Error('describeHostContainerizerHostile: the backend runs only inside its tests');
      return setup;
    };

    beforeAll(async () => {
      const stateDir = await mkdtemp(join(tmpdir(), 'arbor-hostile-'));
      setup = { stateDir, ...(await start(stateDir)) };
      await setup.backend.start();
    });
    afterAll(async () => {
      if (!setup) return;
      for (const c of await setup.backend.containers()) await setup.backend.destroy(c.handle);
      await setup.backend.stop();
      await rm(setup.stateDir, { recursive: true, force: true });
    });

    /** run runs a shell script through the Gardener, to its end. */
    const run = (c: Container, script: string) => runToEnd(c, { path: 'sh', args: ['-c', script] });

    /** direct runs spec through the containerizer itself and waits for its end. */
    async function direct(c: Container, spec: ProcessSpec): Promise<{ code: number; stdout: string }> {
      const stdout = new Collector();
      const p = await under().containerizer.run(c.handle, { id: `direct-${++ids}`, ...spec }, { stdout });
      return { code: await p.wait(), stdout: stdout.text() };
    }

    it("never takes a NUL in env, user, dir or args for a helper option: such a spec is refused, nothing runs privileged or outside the container's cgroups", async () => {
      const c = await under().backend.create({});
      // each script records the capabilities it ran with; the arguments after it are $0 and $1
      const record = (n: number, extra: Partial<ProcessSpec>): ProcessSpec => ({
        ...extra,
        path: 'sh',
        args: ['-c', `grep CapEff /proc/self/status > /tmp/cap-${n}`, 'sh', ...(extra.args ?? [])],
      });
      const hostile: Partial<ProcessSpec>[] = [
        { env: ['X=1\u0000--privileged'] },
        { env: ['X=1\u0000--cgroup\u0000/sys/fs/cgroup'] },
        { user: 'root\u0000--privileged' },
        { dir: '/tmp\u0000--privileged' },
        { args: ['\u0000--privileged'] },
      ];
      const refusals = [];
      for (const [i, extra] of hostile.entries()) refusals.push(await direct(c, record(i, extra)).catch((err: Error) => err));
      // option-like values without a NUL are plain data
      const plain = await direct(c, record(9, { env: ['X=--privileged', 'Y=--cgroup'], args: ['--privileged'] }));
      expect(plain.code).toBe(0);
      expect((await run(c, 'cd /tmp && grep -H CapEff cap-*')).stdout).toBe('cap-9:CapEff:\t00000000a80425fb\n');
      for (const refused of refusals) expect(refused).toBeInstanceOf(InvalidArgumentError);
    });

    it('keeps env values out of every host command line and off the disk while the process runs', async () => {
      const { backend, containerizer } = under();
      const secret = `s3cret-${randomBytes(8).toString('hex')}`;
      const c = await backend.create({ env: [`FROM_CONTAINER=${secret}-c`] });
      const stdout = new Collector();
      const p = await containerizer.run(
        c.handle,
        { id: 'secret', path: 'sh', args: ['-c', 'echo "$SECRET $FROM_CONTAINER"; exec sleep 30'], env: [`SECRET=${secret}-p`] },
        { stdout },
      );
      await waitFor('the first line', () => (stdout.text().includes('\n') ? true : undefined), 5000, 20);
      expect(stdout.text()).toBe(`${secret}-p ${secret}-c\n`);
      expect((await hostCmdlines()).filter((line) => line.includes(secret))).toEqual([]);
      expect(await filesHolding(join(containerizer.dir(c.handle), 'processes', 'secret'), secret)).toEqual([]);
      await p.signal('SIGKILL');
      await p.wait();
    });

    it('refuses uids and gids outside 0..4294967294, from the spec or /etc/passwd, and runs nothing as root', async () => {
      const { backend, containerizer } = under();
      const c = await backend.create({});
      await run(c, 'echo "minus1:x:4294967295:4294967295::/tmp:/bin/sh" >> /etc/passwd; echo "wraps:x:4294967296:1000::/tmp:/bin/sh" >> /etc/passwd');
      const users = ['4294967295', '4294967295:0', '4294967296:0', '1000:4294967295', '1000:4294967296', '18446744073709551617', '01x', 'minus1', 'wraps'];
      const refusals = [];
      for (const [i, user] of users.entries())
        refusals.push(await direct(c, { path: 'sh', args: ['-c', `id > /tmp/who-${i}`], user }).catch((err: Error) => err));
      // arbor-tar resolves users with the same code
      const tar = Readable.from([await tarOf([{ name: 'f', content: 'x' }])]);
      refusals.push(await containerizer.streamIn(c.handle, { path: '/tmp/streamed', user: 'wraps', tar }).catch((err: Error) => err));
      expect((await run(c, 'cat /tmp/who-* 2>/dev/null; ls /tmp/streamed 2>/dev/null; true')).stdout).toBe('');
      for (const refused of refusals) expect(String(refused)).toMatch(/user/);
      // the highest ids still work: the runtime's own in a privileged container (host ids), the
      // top of the range in a container with a user namespace (the default)
      const privileged = await backend.create({ privileged: true });
      const highest = String(options.highestId);
      const ids = (user: string) => ({ path: 'sh', args: ['-c', 'id -u; id -g'], user });
      expect((await direct(privileged, ids(`${highest}:${highest}`))).stdout).toBe(`${highest}\n${highest}\n`);
      expect((await direct(c, ids('65535:65535'))).stdout).toBe('65535\n65535\n');
    });

    it('refuses a working dir that is not absolute', async () => {
      const c = await under().backend.create({});
      await expect(direct(c, { path: 'sh', args: ['-c', 'pwd > /tmp/ran'], dir: 'tmp' })).rejects.toThrow(/dir/);
      expect((await run(c, 'cat /tmp/ran 2>/dev/null; ls -d /tmp/tmp 2>/dev/null; true')).stdout).toBe('');
    });

    options.more?.(under);
  });
}

/** runToEnd runs spec in container to its end and returns its exit code, its output and the process. */
export async function runToEnd(container: Container, spec: ProcessSpec): Promise<{ code: number; stdout: string; stderr: string; process: Process }> {
  const stdout = new Collector();
  const stderr = new Collector();
  const process = await container.run(spec, { stdout, stderr });
  const code = await process.wait();
  return { code, stdout: stdout.text(), stderr: stderr.text(), process };
}
