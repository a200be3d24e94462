import { execFileSync } from 'node:child_process';
import { constants, readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { ProcessNotFoundError } from '@arbor/core';
import { ProcessChannel } from './process-channel';

/** openFds lists this process's fds open on path, like ['23'], but for those in except. */
function openFds(path: string, except: Array<number | undefined> = []): string[] {
  return readdirSync('/proc/self/fd').filter((fd) => {
    if (except.includes(Number(fd))) return false;
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false;
    }
  });
}

async function settled(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

const sink = (): Writable => new Writable({ write: (_chunk, _encoding, callback) => callback() });

describe('ProcessChannel', () => {
  // dir stands for a process dir made by arbor-exec, like /var/lib/arbor/depot/<handle>/processes/<id>
  let dir: string;
  // supervisorStdin is the supervisor's read end of the stdin FIFO, held while the "process" runs
  let supervisorStdin: FileHandle | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-channel-'));
    for (const fifo of ['stdin', 'stdout', 'stderr', 'control']) execFileSync('mkfifo', ['-m', '600', join(dir, fifo)]);
    supervisorStdin = await open(join(dir, 'stdin'), constants.O_RDONLY | constants.O_NONBLOCK);
  });

  afterEach(async () => {
    await supervisorStdin?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('closes its end of stdin once the process has exited, even when the caller never ends stdin', async () => {
    // a process that exited at once: no writer on its outputs, its exit status written
    await writeFile(join(dir, 'exit'), '0\n');
    const channel = await ProcessChannel.open('p-1', dir);
    const stdin = new PassThrough(); // like a Run whose stdin_close comes after the exit, or never
    const process = channel.attach({ stdin, stdout: sink(), stderr: sink() }, 'run');
    expect(await process.wait()).toBe(0);
    await settled(200);
    expect(openFds(join(dir, 'stdin'), [supervisorStdin?.fd])).toEqual([]);
    expect(openFds(join(dir, 'stdout'))).toEqual([]);
    expect(openFds(join(dir, 'stderr'))).toEqual([]);
    // what the caller writes after the exit goes nowhere, and does not fail
    stdin.end('late\n');
    await settled(50);
    expect(openFds(join(dir, 'stdin'), [supervisorStdin?.fd])).toEqual([]);
  });

  it('keeps no fd of stdout when stderr is missing', async () => {
    await rm(join(dir, 'stderr'));
    await expect(ProcessChannel.open('p-2', dir)).rejects.toBeInstanceOf(ProcessNotFoundError);
    await settled(50);
    expect(openFds(join(dir, 'stdout'))).toEqual([]);
  });
});
