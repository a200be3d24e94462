// scripts/arbord.service checked by systemd-analyze verify, and scripts/start.sh's systemd
// branch run for real in a private mount namespace (needs root for unshare -m). systemd is not
// pid 1 in CI, so /run/systemd/system is made there and systemctl is a stand-in that records
// its calls and, for restart, verifies the installed unit and drop-in and starts arbord as the
// unit would ($ARBORD_ARGS). A real systemd restarting a crashed arbord, which then restores
// every container, is systemd-restart.int.spec.ts.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describeIf } from '@arbor/testkit';

const run = promisify(execFile);
const REPO = join(__dirname, '..', '..', '..');
const UNIT = join(REPO, 'scripts', 'arbord.service');
// scripts/test.sh installs the systemd package for systemd-analyze; verify needs no running systemd
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arbor-systemd-'));
  await writeFile(join(dir, 'setup.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** inNamespace runs script in bash in a private mount namespace with fresh tmpfs over /usr/local/bin. */
async function inNamespace(script: string): Promise<{ stdout: string; stderr: string }> {
  const prelude = 'set -euo pipefail; mount -t tmpfs tmpfs /usr/local/bin\n';
  return run('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', prelude + script], { timeout: 60_000 });
}

describeIf({ root: true })('systemd-analyze verify scripts/arbord.service', () => {
  beforeAll(() => {
    if (!hasAnalyze) throw new Error('systemd-analyze is missing: scripts/test.sh installs the systemd package (apt-get install systemd)');
  });

  it('passes with no warning (verify reports a bad value as a warning and still exits 0)', async () => {
    // verify checks that ExecStart's binaries exist: stand-ins for arbord and arbor
    const { stdout, stderr } = await inNamespace(`
      printf '#!/bin/sh\\n' >/usr/local/bin/arbord && chmod 0755 /usr/local/bin/arbord && cp /usr/local/bin/arbord /usr/local/bin/arbor
      cp ${UNIT} ${dir}/arbord.service
      systemd-analyze verify ${dir}/arbord.service 2>&1
    `);
    expect(stdout + stderr).toBe('');
  });

  it('catches a bad value, so the test above is not vacuous', async () => {
    const { stdout } = await inNamespace(`
      printf '#!/bin/sh\\n' >/usr/local/bin/arbord && chmod 0755 /usr/local/bin/arbord && cp /usr/local/bin/arbord /usr/local/bin/arbor
      mkdir -p ${dir}/bad && sed 's/^KillMode=process/KillMode=bogus/' ${UNIT} >${dir}/bad/arbord.service
      systemd-analyze verify ${dir}/bad/arbord.service 2>&1 || true
    `);
    expect(stdout).toMatch(/kill mode/i);
  });
});

describeIf({ root: true })('scripts/start.sh where systemd is pid 1', () => {
  it('installs the unit and a drop-in with its arguments, reloads, enables and restarts arbord.service', async () => {
    const sock = join(dir, 'arbord.sock');
    // the stand-in systemctl: records its calls; restart verifies what start.sh installed and runs it
    const systemctl = `#!/bin/bash
echo "$*" >>/run/systemctl.calls
case "$1" in
  restart)
    SYSTEMD_UNIT_PATH=/etc/systemd/system: systemd-analyze verify /etc/systemd/system/arbord.service >/run/verify.out 2>&1 || exit 1
    [ -s /run/verify.out ] && exit 1
    args=$(sed -n 's/^Environment="ARBORD_ARGS=\\([^"]*\\)".*/\\1/p' /etc/systemd/system/arbord.service.d/start-sh.conf)
    setsid /usr/local/bin/arbord $args >>/var/log/arbor/arbord.log 2>&1 </dev/null &
    echo $! >/run/mainpid
    for _ in $(seq 100); do /usr/local/bin/arbor --address unix://${sock} ping >/dev/null 2>&1 && exit 0; sleep 0.1; done
    exit 1 ;;
  show) cat /run/mainpid ;;
esac
`;
    await writeFile(join(dir, 'systemctl'), systemctl, { mode: 0o755 });
    const { stdout } = await inNamespace(`
      mount -t tmpfs tmpfs /var/log
      mount -t tmpfs tmpfs /run
      mount -t tmpfs tmpfs /usr/local/sbin
      mount -t tmpfs tmpfs /etc/systemd/system
      mkdir -p /run/systemd/system
      cp ${dir}/systemctl /usr/local/sbin/systemctl
      mount --bind ${dir}/setup.sh ${REPO}/scripts/setup.sh
      out=$(${REPO}/scripts/start.sh --backend fake --state-dir ${dir}/state --listen unix://${sock} --default-grace-time 5m)
      echo "$out" | head -n 1
      kill -TERM "$(cat /run/mainpid)"
      for _ in $(seq 50); do kill -0 "$(cat /run/mainpid)" 2>/dev/null || break; sleep 0.1; done
      echo '--- calls'; cat /run/systemctl.calls
      echo '--- drop-in'; cat /etc/systemd/system/arbord.service.d/start-sh.conf
      echo '--- same unit'; cmp ${UNIT} /etc/systemd/system/arbord.service && echo yes
      echo '--- pidfile'; ls /run/arbor/arbord.pid 2>/dev/null || echo none
    `);
    const [first, rest = ''] = stdout.split('\n--- calls\n');
    expect(first).toMatch(/^\[start\] arbord is running \(pid \d+, log \/var\/log\/arbor\/arbord.log, systemd unit arbord.service\)$/);
    const [calls, dropIn = '', same = '', pidfile = ''] = rest.split(/\n--- [a-z -]+\n/);
    expect(calls?.split('\n')).toEqual(['daemon-reload', 'enable --quiet arbord.service', 'restart arbord.service', 'show -p MainPID --value arbord.service']);
    expect(dropIn).toContain(
      `Environment="ARBORD_ARGS=--backend fake --state-dir ${dir}/state --listen unix://${sock} --default-grace-time 5m" "ARBORD_READY_ADDRESS=unix://${sock}"`,
    );
    expect(same.trim()).toBe('yes');
    expect(pidfile.trim()).toBe('none');
  }, 90_000);

  it('refuses an argument systemd would split, pointing at the config file', async () => {
    const result = await inNamespace(`
      mount -t tmpfs tmpfs /var/log
      mount -t tmpfs tmpfs /run
      mount -t tmpfs tmpfs /etc/systemd/system
      mkdir -p /run/systemd/system
      mount --bind ${dir}/setup.sh ${REPO}/scripts/setup.sh
      ${REPO}/scripts/start.sh --default-rootfs 'raw:///a b' 2>&1 && exit 1 || echo "exit $?"
    `);
    expect(result.stdout).toMatch(/cannot hold spaces.*\/etc\/arbor\/arbord.yaml[\s\S]*exit 2/);
  }, 90_000);
});
