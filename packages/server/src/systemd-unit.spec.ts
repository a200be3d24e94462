// scripts/arbord.service, read as text: what supervision relies on (systemd-unit.int.spec.ts
// runs systemd-analyze verify on it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const UNIT = join(__dirname, '..', '..', '..', 'scripts', 'arbord.service');

/** settings maps each key of a section to its values, like Service.Restart -> ['on-failure']. */
function settings(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  let section = '';
  for (const line of text.split('\n')) {
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) section = header[1] ?? '';
    const m = /^(\w+)=(.*)$/.exec(line);
    if (m) map.set(`${section}.${m[1]}`, [...(map.get(`${section}.${m[1]}`) ?? []), m[2] ?? '']);
  }
  return map;
}

describe('scripts/arbord.service', () => {
  const unit = settings(readFileSync(UNIT, 'utf8'));
  const one = (key: string) => unit.get(key)?.[0];

  it('restarts arbord after a crash, not after a clean stop', () => {
    expect(one('Service.Restart')).toBe('on-failure');
    expect(one('Service.RestartSec')).toMatch(/^\d+s$/);
  });

  it("signals arbord alone on stop and restart, so the containers' processes live on", () => {
    expect(one('Service.KillMode')).toBe('process');
    expect(one('Service.Delegate')).toBe('yes');
  });

  it("runs the installed arbord with start.sh's arguments and waits for it to answer a ping", () => {
    expect(one('Service.Type')).toBe('exec');
    expect(one('Service.ExecStart')).toBe('/usr/local/bin/arbord $ARBORD_ARGS');
    expect(one('Service.ExecStartPost')).toMatch(/\/usr\/local\/bin\/arbor --address "\$\$a" ping/);
  });

  it('lifts the limits a busy arbord reaches: open files and tasks', () => {
    expect(Number(one('Service.LimitNOFILE'))).toBeGreaterThanOrEqual(65536);
    expect(one('Service.TasksMax')).toBe('infinity');
  });

  it('logs where the fallback start logs, and starts at boot', () => {
    expect(one('Service.StandardOutput')).toBe('append:/var/log/arbor/arbord.log');
    expect(one('Install.WantedBy')).toBe('multi-user.target');
  });
});
