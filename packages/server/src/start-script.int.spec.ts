// scripts/start.sh, run for real in a private mount namespace: /var/log, /run and
// /usr/local/bin are fresh tmpfs there and scripts/setup.sh is a no-op, so the arbord it starts
// (fake backend) and the files it writes touch nothing outside. Needs root (unshare -m).
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describeIf } from '@arbor/testkit';

const run = promisify(execFile);
const REPO = join(__dirname, '..', '..', '..');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arbor-start-sh-'));
  await writeFile(join(dir, 'setup.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * startScript runs start.sh after `before` (a shell snippet run in the namespace) and prints
 * the modes of /var/log/arbor and its arbord.log, then the log's first line; it stops the
 * arbord it started.
 */
async function startScript(before: string): Promise<{ dirMode: string; logMode: string; firstLine: string }> {
  const script = `
    set -euo pipefail
    mount -t tmpfs tmpfs /var/log
    mount -t tmpfs tmpfs /run
    mount -t tmpfs tmpfs /usr/local/bin
    mount --bind ${dir}/setup.sh ${REPO}/scripts/setup.sh
    ${before}
    umask 022
    out=$(${REPO}/scripts/start.sh --backend fake --state-dir ${dir}/state)
    pid=$(sed -n 's/.*arbord is running (pid \\([0-9]*\\).*/\\1/p' <<<"$out")
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "$(stat -c %a /var/log/arbor) $(stat -c %a /var/log/arbor/arbord.log)"
    head -n 1 /var/log/arbor/arbord.log
  `;
  const { stdout } = await run('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', script], { timeout: 60_000 });
  const [modes = '', firstLine = ''] = stdout.split('\n');
  const [dirMode = '', logMode = ''] = modes.split(' ');
  return { dirMode, logMode, firstLine };
}

describeIf({ root: true })('scripts/start.sh', () => {
  test('creates /var/log/arbor 0750 and arbord.log 0640: not readable by every user', async () => {
    const result = await startScript('');
    expect(result).toMatchObject({ dirMode: '750', logMode: '640' });
    expect(result.firstLine).toMatch(/"event":"arbord-started"/);
  }, 90_000);

  test('tightens a log dir and log left world-readable by an earlier start, keeping what they hold', async () => {
    const result = await startScript(
      'mkdir -m 0755 /var/log/arbor && echo "an earlier start" >/var/log/arbor/arbord.log && chmod 0644 /var/log/arbor/arbord.log',
    );
    expect(result).toEqual({ dirMode: '750', logMode: '640', firstLine: 'an earlier start' });
  }, 90_000);
});
