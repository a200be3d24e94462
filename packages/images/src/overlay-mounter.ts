import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ArborError } from '@arbor/core';

const run = promisify(execFile);

/**
 * findMountHelper locates arbor-mount: ARBOR_MOUNT_HELPER, else native/build/arbor-mount in
 * the repository this package sits in (like /work/main/native/build/arbor-mount); '' when absent.
 */
export function findMountHelper(): string {
  const fromEnv = process.env['ARBOR_MOUNT_HELPER'];
  if (fromEnv) return fromEnv;
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'native', 'build', 'arbor-mount');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return '';
}

interface Pending {
  request: string;
  resolve: (values: string) => void;
  reject: (err: Error) => void;
}

/**
 * OverlayMounter mounts and unmounts container overlays through arbor-mount, a coprocess
 * doing mount(2)/umount2(2) (see native/arbor-mount): a syscall per mount instead of a
 * mount(8) process. Without the helper (helperPath '') it runs mount(8)/umount(8). The
 * same coprocess mounts the quota filesystem and makes, caps, counts and deletes its btrfs
 * subvolumes for BtrfsQuotaVolumes (btrfsLoop, quotaEnable, subvolume*, qgroup*: these need
 * the helper). It starts on
 * first use and again after it dies; it holds the event loop only while a request waits,
 * so an idle volumizer never keeps arbord (or a test run) alive. Requests are answered in
 * order, one at a time.
 */
export class OverlayMounter {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly pending: Pending[] = [];
  private buffered = '';
  private stderr = '';

  /** helperPath is like /opt/arbor/native/build/arbor-mount; '' means spawn mount(8)/umount(8). */
  constructor(readonly helperPath: string = findMountHelper()) {}

  /** overlay mounts an overlay at target with options like 'lowerdir=/a,upperdir=/u,workdir=/w'. @throws ArborError */
  async overlay(target: string, options: string): Promise<void> {
    if (!this.helperPath) {
      await run('mount', ['-t', 'overlay', 'overlay', '-o', options, target]).catch((err: unknown) => {
        throw new ArborError('internal', `mount overlay at ${target}: ${stderrOf(err)}`, { cause: err });
      });
      return;
    }
    await this.request('overlay', target, options);
  }

  /** umount unmounts target; one not mounted is fine with the helper. @throws ArborError */
  async umount(target: string): Promise<void> {
    if (!this.helperPath) {
      await run('umount', [target]).catch((err: unknown) => {
        throw new ArborError('internal', `umount ${target}: ${stderrOf(err)}`, { cause: err });
      });
      return;
    }
    await this.request('umount', target);
  }

  /** btrfsLoop mounts the btrfs in image, like /var/lib/arbor/volumes.btrfs, at target through a loop device that goes at unmount. @throws ArborError */
  async btrfsLoop(target: string, image: string): Promise<void> {
    await this.request('btrfs-loop', target, image);
  }

  /** quotaEnable turns on qgroups for the btrfs mounted at target; already on is fine. @throws ArborError */
  async quotaEnable(target: string): Promise<void> {
    await this.request('quota-enable', target);
  }

  /** subvolumeCreate makes dir, like /var/lib/arbor/overlays/<handle>, a btrfs subvolume with mode 0700. @throws ArborError */
  async subvolumeCreate(dir: string): Promise<void> {
    await this.request('subvolume-create', dir);
  }

  /** subvolumeDelete deletes the btrfs subvolume dir and starts a commit so its qgroup goes soon; one already gone is fine. @throws ArborError */
  async subvolumeDelete(dir: string): Promise<void> {
    await this.request('subvolume-delete', dir);
  }

  /** qgroupLimit caps the referenced bytes of dir's subvolume; 0 removes the cap. @throws ArborError */
  async qgroupLimit(dir: string, bytes: number): Promise<void> {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new ArborError('internal', `arbor-mount: qgroup limit ${bytes} for ${dir} is not a byte count`);
    await this.request('qgroup-limit', dir, String(bytes));
  }

  /** qgroupUsage commits dir's filesystem and returns the bytes its subvolume's qgroup counts. @throws ArborError */
  async qgroupUsage(dir: string): Promise<{ referenced: number; exclusive: number }> {
    const values = await this.request('qgroup-usage', dir);
    const [referenced, exclusive] = values.split(' ').map(Number);
    if (referenced === undefined || exclusive === undefined || !Number.isFinite(referenced) || !Number.isFinite(exclusive)) {
      throw new ArborError('internal', `arbor-mount: 'qgroup-usage ${dir}' answered '${values}', not two byte counts`);
    }
    return { referenced, exclusive };
  }

  /** close ends the coprocess; a later request starts it again. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      child.stdin.end();
    });
  }

  /** request sends one line and resolves with what follows 'ok' in the reply ('' for a bare 'ok'). */
  private request(...tokens: string[]): Promise<string> {
    const line = tokens.join(' ');
    if (!this.helperPath) return Promise.reject(new ArborError('internal', `arbor-mount: '${line}' needs the helper, which is not built`));
    if (tokens.some((t) => t === '' || /\s/.test(t))) {
      return Promise.reject(new ArborError('internal', `arbor-mount: '${line}' has an empty token or whitespace in a path`));
    }
    const child = this.start();
    return new Promise<string>((resolve, reject) => {
      if (this.pending.length === 0) this.hold(child, true);
      this.pending.push({ request: line, resolve, reject });
      child.stdin.write(`${line}\n`);
    });
  }

  private hold(child: ChildProcessWithoutNullStreams, busy: boolean): void {
    for (const handle of [child, child.stdin, child.stdout, child.stderr] as Array<{ ref(): void; unref(): void }>) {
      if (busy) handle.ref();
      else handle.unref();
    }
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn(this.helperPath, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.buffered = '';
    this.stderr = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.onData(chunk));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-2000);
    });
    child.stdin.on('error', () => undefined);
    child.on('error', (err: NodeJS.ErrnoException) =>
      this.onExit(err.code === 'ENOENT' ? `is not at ${this.helperPath}: build it with 'make -C native'` : `cannot run: ${err.message}`),
    );
    child.on('close', (code, signal) => this.onExit(`exited with ${code ?? signal}${this.stderr ? `: ${this.stderr.trim()}` : ''}`));
    return child;
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const reply = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const waiting = this.pending.shift();
      if (this.pending.length === 0 && this.child) this.hold(this.child, false);
      if (!waiting) continue;
      if (reply === 'ok' || reply.startsWith('ok ')) {
        waiting.resolve(reply.slice(3));
        continue;
      }
      // an arbor-mount built before a request existed answers 'unknown request'
      const stale = reply.endsWith('unknown request: Invalid argument') ? ` (rebuild it: make -C native)` : '';
      waiting.reject(new ArborError('internal', `arbor-mount: '${waiting.request}' failed: ${reply.replace(/^err \d+ /, '')}${stale}`));
    }
  }

  private onExit(why: string): void {
    if (!this.child) return;
    this.child = undefined;
    for (const waiting of this.pending.splice(0)) {
      waiting.reject(new ArborError('internal', `arbor-mount: '${waiting.request}' got no answer: the helper ${why}`));
    }
  }
}

function stderrOf(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(err)).trim();
}
