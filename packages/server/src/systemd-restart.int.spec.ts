// A real systemd restarting a crashed arbord (scripts/arbord.service's Restart=on-failure), and
// the restarted arbord restoring every container. systemd boots as pid 1 of its own pid, mount,
// cgroup, network, uts and ipc namespaces (OUTER and INNER below), the root of its cgroup tree
// a group of this test's own under the test's groups; scripts/start.sh's systemd branch
// installs and starts the unit there (linux backend, tag 's'); the test kill -9s the unit's
// MainPID and talks to both arbords through the arbor CLI on a socket in its temp dir. Nothing
// outside is touched: /run, /var/log, /usr/local/bin and the unit directories are fresh tmpfs
// in the namespace, so the host's arbord, its socket and its units stay out of sight, and the
// containers' links and chains live in the namespace's own network. Needs root; ~15 s.
// systemd-unit.int.spec.ts checks the unit with systemd-analyze verify.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describeIf } from '@arbor/testkit';

const REPO = join(__dirname, '..', '..', '..');
const CLI = join(REPO, 'packages', 'client', 'dist', 'cli.js');
const SYSTEMD = '/lib/systemd/systemd';

/** CgroupMount is one hierarchy mounted on the host, like { point: '/sys/fs/cgroup/memory', own: '/process_api/x' }. */
interface CgroupMount {
  point: string;
  type: 'cgroup' | 'cgroup2';
  /** options are the mount's, like 'rw,relatime,cpu,cpuacct' or 'rw,relatime,name=systemd'. */
  options: string;
  /** own is this process's group in the hierarchy, like '/' or '/process_api/x'. */
  own: string;
}

/** hostCgroupMounts lists the cgroup hierarchies under /sys/fs/cgroup and this process's group in each. */
function hostCgroupMounts(): CgroupMount[] {
  const groups = readFileSync('/proc/self/cgroup', 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split(':'));
  const mounts: CgroupMount[] = [];
  for (const line of readFileSync('/proc/self/mounts', 'utf8').trim().split('\n')) {
    const [, point = '', type = '', options = ''] = line.split(' ');
    if (!point.startsWith('/sys/fs/cgroup') || (type !== 'cgroup' && type !== 'cgroup2')) continue;
    const opts = options.split(',');
    // a v1 line names the hierarchy by its controllers, like '2:cpu,cpuacct:/x'; v2's is '0::/x'
    const own = groups.find(([id, controllers = '']) =>
      type === 'cgroup2' ? id === '0' : controllers !== '' && controllers.split(',').every((c) => opts.includes(c)),
    );
    if (own === undefined) throw new Error(`systemd-restart: no line of /proc/self/cgroup for ${point} (${options})`);
    mounts.push({ point, type, options, own: own.slice(2).join(':') });
  }
  return mounts;
}

/**
 * OUTER joins the test's groups (arguments: their directories) and unshares; the new pid
 * namespace's first process runs INNER, which becomes systemd. unshare's own pid is the one
 * spawned; systemd's is its child.
 */
const OUTER = `set -euo pipefail
for g in "$@"; do echo $$ >"$g/cgroup.procs"; done
exec unshare --kill-child --pid --fork --mount --propagation private --cgroup --net --uts --ipc --mount-proc bash "$INNER"
`;

/**
 * INNER mounts what systemd and arbord see in the namespace, then execs systemd. It mounts
 * the host's cgroup hierarchies again: from inside the cgroup namespace, their root is the
 * test's group. Its environment: LAYOUT (lines 'point type options' of the host's cgroup
 * mounts), NOOP (a setup.sh that does nothing, for start.sh) and REPO.
 */
const INNER = `set -euo pipefail
links=$(find /sys/fs/cgroup -maxdepth 1 -type l -printf '%f %l\\n')
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup
while read -r point type options; do
  mkdir -p "$point"
  mount -t "$type" -o "$options" "$type" "$point"
done <<<"$LAYOUT"
while read -r name target; do [ -z "$name" ] || ln -s "$target" "/sys/fs/cgroup/$name"; done <<<"$links"
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/log
for d in /usr/local/bin /etc/arbor /etc/systemd/system /usr/local/lib/systemd/system /lib/systemd/system /usr/lib/systemd/system \\
  /etc/systemd/system-generators /usr/local/lib/systemd/system-generators /lib/systemd/system-generators /usr/lib/systemd/system-generators; do
  [ ! -d "$d" ] || mount -t tmpfs tmpfs "$d"
done
# units: empty stand-ins for the targets and the slice arbord.service's default dependencies
# name; nothing else boots (no journald, no tmpfiles cleaning the shared /tmp, no getty)
for t in arbor-test sysinit basic shutdown multi-user network local-fs; do printf '[Unit]\\nDescription=%s\\n' "$t" >"/lib/systemd/system/$t.target"; done
printf '[Unit]\\nDescription=System Slice\\n' >/lib/systemd/system/system.slice
mount --bind "$NOOP" "$REPO/scripts/setup.sh"
exec env -i container=arbor-test PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
  ${SYSTEMD} --system --unit=arbor-test.target </dev/null
`;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * collect runs a child to its end; its stdin, when a pipe, gets stdin and is closed. After
 * timeoutMs it kills the child and gives what it has, with code null: nsenter's own children
 * may still hold the pipes then.
 */
function collect(child: ChildProcess, timeoutMs: number, stdin?: string): Promise<Result> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin?.end(stdin ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: null, stdout, stderr: `${stderr}(killed after ${timeoutMs} ms)` });
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** until retries check every 100 ms until it returns a value, or throws after timeoutMs with what it saw last. */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`systemd-restart: no ${what} in ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describeIf({ root: true, cgroupNamespaces: true })('a real systemd restarting arbord.service', () => {
  let dir: string;
  /** groups are the test's cgroups, like /sys/fs/cgroup/memory/process_api/x/arbor-systemd-restart-AbC123. */
  let groups: string[] = [];
  let unshare: ChildProcess | undefined;
  let unshareExited: Promise<unknown> | undefined;
  /** systemdPid is systemd's pid on the host: the namespace's pid 1. */
  let systemdPid: number | undefined;
  const runs: ChildProcess[] = [];

  /** inside runs a command in systemd's namespaces. */
  const inside = (args: string[], timeoutMs = 10_000): Promise<Result> =>
    collect(spawn('nsenter', ['-t', String(systemdPid), '-m', '-u', '-i', '-n', '-p', '-C', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }), timeoutMs);

  /** cli is the arbor CLI's command line against the arbord in the namespace, run from the host. */
  const cli = (args: string[]): string[] => [CLI, '--address', `unix://${join(dir, 'arbord.sock')}`, ...args];
  const arbor = (args: string[], stdin?: string): Promise<Result> =>
    collect(spawn(process.execPath, cli(args), { stdio: ['pipe', 'pipe', 'pipe'] }), 15_000, stdin);

  async function arborOk(args: string[]): Promise<string> {
    const result = await arbor(args);
    if (result.code !== 0) throw new Error(`arbor ${args.join(' ')}: exit ${result.code}: ${result.stderr}`);
    return result.stdout;
  }

  /** unitState is systemd's view of arbord.service, like { ActiveState: 'active', MainPID: '60', NRestarts: '0' }. */
  async function unitState(): Promise<Record<string, string>> {
    const { stdout } = await inside(['systemctl', 'show', '-p', 'ActiveState', '-p', 'MainPID', '-p', 'NRestarts', 'arbord.service']);
    return Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((line) => line.split('=', 2) as [string, string]),
    );
  }

  /** unitStatus is `systemctl status arbord.service`, for a failure's message. */
  async function unitStatus(): Promise<string> {
    const { stdout, stderr } = await inside(['systemctl', 'status', '--no-pager', '--lines', '20', 'arbord.service']);
    return stdout + stderr;
  }

  beforeAll(async () => {
    if (!existsSync(SYSTEMD)) throw new Error(`${SYSTEMD} is missing: scripts/test.sh installs the systemd package (apt-get install systemd)`);
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build @arbor/client first`);
    dir = await mkdtemp(join(tmpdir(), 'arbor-systemd-restart-'));
    await writeFile(join(dir, 'setup.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    await writeFile(join(dir, 'inner.sh'), INNER);
    const mounts = hostCgroupMounts();
    for (const m of mounts) {
      const parent = join(m.point, m.own);
      const group = join(parent, basename(dir));
      await mkdir(group);
      groups.push(group);
      // a v1 cpuset group starts with no cpus and no memory nodes: no process could join it
      if (m.type === 'cgroup' && existsSync(join(parent, 'cpuset.cpus'))) {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) await writeFile(join(group, f), await readFile(join(parent, f)));
      }
    }
    const layout = mounts.map((m) => `${m.point} ${m.type} ${m.options}`).join('\n');
    const env = { ...process.env, INNER: join(dir, 'inner.sh'), LAYOUT: layout, NOOP: join(dir, 'setup.sh'), REPO };
    const child = spawn('bash', ['-c', OUTER, 'outer', ...groups], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    unshare = child;
    const outer = collect(child, 10 * 60_000);
    unshareExited = outer;
    systemdPid = await until('systemd process', 10_000, async () => {
      if (child.exitCode !== null) throw new Error(`unshare exited ${child.exitCode}: ${(await outer).stderr}`);
      const children = await readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8');
      const pid = Number(children.trim().split(' ')[0]);
      // the child is bash running INNER until it execs systemd
      return pid > 0 && (await readFile(`/proc/${pid}/comm`, 'utf8')).trim() === 'systemd' ? pid : undefined;
    });
    await until('booted systemd', 20_000, async () => {
      const { stdout } = await inside(['systemctl', 'is-system-running']);
      return ['running', 'degraded'].includes(stdout.trim()) ? true : undefined;
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}\nsystemctl --failed:\n${(await inside(['systemctl', '--failed', '--no-pager'])).stdout}`);
    });
  }, 60_000);

  afterAll(async () => {
    for (const run of runs) run.kill('SIGKILL');
    // the namespace's pid 1 gone, the kernel kills every process in it: arbord, the containers
    // (unshare --kill-child: killing unshare kills it too, should systemd's pid be unknown)
    try {
      if (systemdPid !== undefined) process.kill(systemdPid, 'SIGKILL');
    } catch {
      // already gone
    }
    unshare?.kill('SIGKILL');
    await unshareExited;
    // the groups empty, remove them depth-first (cgroupfs refuses rm -r); a dying process may hold one for a moment
    const removeTree = async (path: string): Promise<void> => {
      for (const entry of await readdir(path, { withFileTypes: true })) if (entry.isDirectory()) await removeTree(join(path, entry.name));
      await rmdir(path);
    };
    for (const group of groups) {
      await until(`removal of ${group}`, 10_000, () =>
        removeTree(group).then(
          () => true,
          (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? true : Promise.reject(err)),
        ),
      );
    }
    groups = [];
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('start.sh installs and starts the unit; after kill -9 of its MainPID, systemd restarts it and every container is back and usable', async () => {
    const started = await inside(
      [
        join(REPO, 'scripts', 'start.sh'),
        '--backend',
        'linux',
        '--state-dir',
        join(dir, 'state'),
        '--listen',
        `unix://${join(dir, 'arbord.sock')}`,
        '--tag',
        's',
        '--network-pool',
        '10.249.0.0/24',
        '--log-level',
        'error',
      ],
      30_000,
    );
    if (started.code !== 0) throw new Error(`start.sh: exit ${started.code}: ${started.stdout}${started.stderr}\n${await unitStatus()}`);
    expect(started.stdout).toMatch(/^\[start\] arbord is running \(pid \d+, log \/var\/log\/arbor\/arbord.log, systemd unit arbord.service\)\n/);
    const before = await unitState();
    expect(before).toMatchObject({ ActiveState: 'active', NRestarts: '0' });

    // two containers: one with a process waiting for input, one with a sleeper
    const waiter = (await arborOk(['create', '--property', 'role=waiter'])).trim();
    const sleeper = (await arborOk(['create', '--property', 'role=sleeper'])).trim();
    runs.push(
      // stdin stays open: the process waits for the line that attach sends after the restart
      spawn(process.execPath, cli(['run', '--id', 'survivor', waiter, '--', 'sh', '-c', 'read x; echo after $x; exit 7']), {
        stdio: ['pipe', 'ignore', 'ignore'],
      }),
      spawn(process.execPath, cli(['run', '--id', 'sleep', sleeper, '--', 'sleep', '600']), { stdio: ['ignore', 'ignore', 'ignore'] }),
    );
    /** bulkInfo is what arbord says of both containers, like { <waiter>: { processIds: ['survivor'], properties: { role: 'waiter' } } }. */
    const bulkInfo = async (): Promise<Record<string, { processIds: string[]; properties: Record<string, string> }>> => {
      const infos = JSON.parse(await arborOk(['--json', 'bulk-info', waiter, sleeper])) as Record<
        string,
        { value?: { processIds: string[]; properties: Record<string, string> } }
      >;
      return Object.fromEntries(
        Object.entries(infos).map(([handle, info]) => [handle, { processIds: info.value?.processIds ?? [], properties: info.value?.properties ?? {} }]),
      );
    };
    const expected = {
      [waiter]: { processIds: ['survivor'], properties: { role: 'waiter' } },
      [sleeper]: { processIds: ['sleep'], properties: { role: 'sleeper' } },
    };
    const running = await until('both processes running', 10_000, async () => {
      const infos = await bulkInfo();
      return infos[waiter]?.processIds.length && infos[sleeper]?.processIds.length ? infos : undefined;
    });
    expect(running).toEqual(expected);

    const killed = await inside(['kill', '-9', before['MainPID'] ?? '']);
    expect(killed.code).toBe(0);
    // RestartSec=2s, then ExecStartPost's arbor ping
    const after = await until('restart of arbord.service', 30_000, async () => {
      const state = await unitState();
      return state['NRestarts'] === '1' && state['ActiveState'] === 'active' ? state : undefined;
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await unitStatus()}`);
    });
    expect(after['MainPID']).not.toBe(before['MainPID']);

    expect((JSON.parse(await arborOk(['--json', 'list'])) as string[]).sort()).toEqual([waiter, sleeper].sort());
    expect(await bulkInfo()).toEqual(expected);
    // a new process in a container made before the crash sees the sleeper, which kept running
    expect(
      await arbor(['run', sleeper, '--', 'sh', '-c', 'for p in /proc/[0-9]*; do [ "$(cat $p/comm)" = sleep ] && echo alive && exit 0; done; exit 1']),
    ).toMatchObject({ code: 0, stdout: 'alive\n' });
    // the waiter's process takes input from the new arbord and gives its output and status
    expect(await arbor(['attach', waiter, 'survivor'], 'restarted\n')).toMatchObject({ code: 7, stdout: 'after restarted\n' });
    await arborOk(['destroy', waiter, sleeper]);
  }, 90_000);
});
