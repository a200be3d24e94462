// Hostile StreamIn/StreamOut against the real arbord binary, on every host backend (root
// only): a tar the container cannot take fails that call alone, a cancelled or cut stream
// leaves no tar behind, and the tar runs confined like a process of the container.
import { readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pack as tarPack } from 'tar-stream';
import { ContainerNotFoundError, InvalidArgumentError, PermissionDeniedError, ResourceExhaustedError } from '@arbor/core';
import type { ArborError, Container } from '@arbor/core';
import { expectRejection } from '../helpers/expect-rejection';
import { packTar, readTar } from '../helpers/tar';
import { runToEnd, startProcess } from '../helpers/run-process';
import { describeIf, expectAlive, HOST_BACKENDS, waitFor } from '@arbor/testkit';
import { startRealArbord } from './real-arbord';
import type { RealArbord } from './real-arbord';

jest.setTimeout(60_000);

const KiB = 1024;
const MiB = 1024 * KiB;
/** MAX_MESSAGE is the most a status message may carry, whatever the tar printed. */
const MAX_MESSAGE = 1024;

/** initPid is the host pid of a container's init, from <containerPath>/container.json. */
async function initPid(container: Container): Promise<number> {
  const { containerPath } = await container.info();
  return (JSON.parse(await readFile(join(containerPath, 'container.json'), 'utf8')) as { initPid: number }).initPid;
}

async function nsOf(pid: number, ns: string): Promise<string> {
  return readlink(`/proc/${pid}/ns/${ns}`).catch(() => '');
}

/**
 * tarProcesses lists the arbor-tar helpers and busybox tars of a container: what arbord
 * started for its init (arbor-tar's --init-pid), or what runs a tar in its mount namespace.
 */
async function tarProcesses(init: number, mnt: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // zombies hold neither the namespace nor the disk
    if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
    const helper = argv[0]?.endsWith('arbor-tar') && argv.includes('--init-pid') && argv[argv.indexOf('--init-pid') + 1] === String(init);
    const tar = argv[0] === 'tar' && (await nsOf(pid, 'mnt')) === mnt;
    if (helper || tar) found.push(pid);
  }
  return found;
}

/** busyboxTar is the pid of the container's tar child (argv 'tar ...'), once it runs. */
function busyboxTar(init: number, mnt: string): Promise<number> {
  return waitFor('the tar process', async () => {
    for (const pid of await tarProcesses(init, mnt)) {
      if ((await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).startsWith('tar\0')) return pid;
    }
    return undefined;
  });
}

/** expectNoTarLeft waits until no tar process of the container is left (they die a moment after the call). */
async function expectNoTarLeft(init: number, mnt: string): Promise<void> {
  let left: number[] = [];
  await waitFor('the tar processes to end', async () => ((left = await tarProcesses(init, mnt)).length === 0 ? true : undefined), 5_000).catch(() => undefined);
  expect(left).toEqual([]);
}

/** bigEntry is a tar stream of one file of size bytes, generated as it is read. */
function bigEntry(name: string, size: number): Readable {
  const pack = tarPack();
  const entry = pack.entry({ name, size, mode: 0o644 }, () => pack.finalize());
  // arbord refusing the stream cuts it short: no error of the source's own to report
  entry.on('error', () => undefined);
  const chunk = Buffer.alloc(64 * KiB, 0x61);
  void (async () => {
    for (let left = size; left > 0; left -= chunk.length) {
      if (!entry.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await new Promise<void>((r) => entry.once('drain', () => r()));
    }
    entry.end(undefined);
  })().catch(() => undefined);
  return pack as unknown as Readable;
}

/** halfTar is a tar source that sends the header and the first 1 MiB of a 64 MiB entry, then waits. */
async function halfTar(): Promise<PassThrough> {
  const whole = await packTar([{ name: 'half', content: Buffer.alloc(MiB + 1, 0x62) }]);
  const header = Buffer.from(whole.subarray(0, 512));
  // the size field (12 octal digits at 124) and its checksum (at 148) say 64 MiB
  header.write('00400000000\0', 124, 'ascii');
  header.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  const source = new PassThrough();
  source.write(header);
  source.write(Buffer.alloc(MiB, 0x62));
  return source;
}

function expectBounded(err: ArborError): void {
  expect(err.message.length).toBeLessThan(MAX_MESSAGE);
}

for (const backend of HOST_BACKENDS) {
  describeIf({ root: true })(`hostile tar streams against a real arbord (${backend})`, () => {
    let arbord: RealArbord;

    beforeAll(async () => {
      arbord = await startRealArbord(backend);
    });
    afterAll(async () => {
      await arbord?.stop();
    });

    it('fails a StreamIn the tar cannot finish with that call alone, while a Run elsewhere lives on', async () => {
      const bystander = await arbord.client.create({});
      // a process that runs across every request below and exits 7 once told to
      const running = await startProcess(bystander, { path: 'sh', args: ['-c', 'while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 7'] });
      const container = await arbord.client.create({});
      const entry = async () => Readable.from([await packTar([{ name: 'big', content: Buffer.alloc(256 * KiB, 0x61) }])]);

      const asVcap = await expectRejection(container.streamIn({ path: '/', user: 'vcap', tar: await entry() }), PermissionDeniedError);
      expectBounded(asVcap);
      await expectAlive(arbord);

      const intoProc = await expectRejection(container.streamIn({ path: '/proc/sys', tar: await entry() }), PermissionDeniedError);
      expectBounded(intoProc);
      await expectAlive(arbord);

      const small = await arbord.client.create({ limits: { disk: { byteSoft: 0, byteHard: 10 * MiB, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' } } });
      const full = await expectRejection(small.streamIn({ path: '/root', tar: bigEntry('fifty', 50 * MiB) }), ResourceExhaustedError);
      expect(full.message).toMatch(/disk/);
      expectBounded(full);
      await expectAlive(arbord);
      // the container takes a tar that fits once the part written is gone
      expect((await runToEnd(small, { path: 'rm', args: ['/root/fifty'] })).exitCode).toBe(0);
      await small.streamIn({ path: '/root', tar: Readable.from([await packTar([{ name: 'fits', content: 'ok' }])]) });

      expect(running.process).toBeDefined();
      await bystander.streamIn({ path: '/tmp', tar: Readable.from([await packTar([{ name: 'go', content: '' }])]) });
      expect(await running.process.wait()).toBe(7);
      await expectAlive(arbord);
    });

    it('refuses a path too long for the kernel with INVALID_ARGUMENT, both ways', async () => {
      const container = await arbord.client.create({});
      const path = `/tmp/${'x'.repeat(200 * KiB)}`;
      const tar = Readable.from([await packTar([{ name: 'f', content: 'x' }])]);
      expectBounded(await expectRejection(container.streamIn({ path, tar }), InvalidArgumentError));
      expectBounded(await expectRejection(container.streamOut({ path }), InvalidArgumentError));
      await expectAlive(arbord);
    });

    it('streams in and out of a container at its pid limit: the tar joins its cgroups, it does not fork in them', async () => {
      const full = await arbord.client.create({ limits: { pid: { max: 1 } } });
      await full.streamIn({ path: '/tmp', tar: Readable.from([await packTar([{ name: 'f', content: 'in' }])]) });
      const entries = await readTar(await full.streamOut({ path: '/tmp/f' }));
      expect(entries.map((e) => [e.name, e.content.toString()])).toEqual([['f', 'in']]);
    });

    describe('leaves no tar process behind', () => {
      let container: Container;
      let init: number;
      let mnt: string;

      beforeEach(async () => {
        container = await arbord.client.create({});
        init = await initPid(container);
        mnt = await nsOf(init, 'mnt');
        // 16 MiB to stream out, more than every pipe and window between tar and client
        expect((await runToEnd(container, { path: 'dd', args: ['if=/dev/zero', 'of=/root/big', 'bs=1M', 'count=16'] })).exitCode).toBe(0);
      });

      it('when the client cancels a StreamIn mid-stream', async () => {
        const source = await halfTar();
        const streaming = container.streamIn({ path: '/root/in', tar: source });
        await busyboxTar(init, mnt);
        source.destroy(new Error('the client gave up'));
        await expect(streaming).rejects.toThrow();
        await expectNoTarLeft(init, mnt);
        await expectAlive(arbord);
      });

      it('when the client cancels a StreamOut mid-stream', async () => {
        const out = await container.streamOut({ path: '/root/big' });
        await new Promise((r) => out.once('readable', r));
        await busyboxTar(init, mnt);
        out.destroy();
        await expectNoTarLeft(init, mnt);
        await expectAlive(arbord);
      });

      it('when the container is destroyed during a StreamOut nobody reads and a StreamIn nobody feeds', async () => {
        const out = await container.streamOut({ path: '/root/big' });
        out.pause();
        out.on('error', () => undefined);
        const source = await halfTar();
        const streaming = container.streamIn({ path: '/root/in', tar: source });
        streaming.catch(() => undefined);
        await waitFor('both tars', async () => {
          const argvs = await Promise.all((await tarProcesses(init, mnt)).map((pid) => readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')));
          return argvs.some((a) => a.startsWith('tar\0-c')) && argvs.some((a) => a.startsWith('tar\0-x')) ? true : undefined;
        });
        await arbord.client.destroy(container.handle);
        await expectRejection(streaming, ContainerNotFoundError);
        await expectNoTarLeft(init, mnt);
        source.destroy();
        out.destroy();
        await expectAlive(arbord);
      });
    });

    it('runs the tar like a process of the container: its cgroups and namespaces, no_new_privs, seccomp', async () => {
      const container = await arbord.client.create({});
      const init = await initPid(container);
      const mnt = await nsOf(init, 'mnt');
      expect((await runToEnd(container, { path: 'dd', args: ['if=/dev/zero', 'of=/root/big', 'bs=1M', 'count=16'] })).exitCode).toBe(0);
      const own = (await runToEnd(container, { path: 'cat', args: ['/proc/self/status'] })).stdout;
      const out = await container.streamOut({ path: '/root/big' });
      out.pause();
      const tar = await busyboxTar(init, mnt);
      for (const ns of ['mnt', 'pid', 'net', 'uts', 'ipc', 'cgroup']) expect(`${ns} ${await nsOf(tar, ns)}`).toBe(`${ns} ${await nsOf(init, ns)}`);
      const cgroups = async (pid: number) =>
        (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').filter((l) => /:(memory|pids|cpu,cpuacct|cpuacct,cpu):/.test(l));
      expect(await cgroups(tar)).toEqual(await cgroups(init));
      const status = await readFile(`/proc/${tar}/status`, 'utf8');
      const field = (text: string, name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(text)?.[1];
      expect(field(status, 'Seccomp')).toBe('2');
      expect(field(status, 'NoNewPrivs')).toBe('1');
      // root in the container keeps what a process of the container keeps, no more
      expect(field(status, 'CapBnd')).toBe(field(own, 'CapBnd'));
      expect(field(status, 'CapEff')).toBe(field(own, 'CapEff'));
      out.destroy();
      await expectNoTarLeft(init, mnt);
    });
  });
}
