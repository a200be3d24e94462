import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** mountPointsUnder lists the host's mount points under dir, like <stateDir>/containers/<handle>/idmap-binds/0, sorted. */
export async function mountPointsUnder(dir: string): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${dir}/`))
    .sort();
}

/** mountsUnderStateDir lists the mount points under stateDir but its quota filesystem (<stateDir>/overlays, mounted while the backend runs): what a destroy must leave as it found. */
export async function mountsUnderStateDir(stateDir: string): Promise<string[]> {
  return (await mountPointsUnder(stateDir)).filter((m) => m !== join(stateDir, 'overlays'));
}
