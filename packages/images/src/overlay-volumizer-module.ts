import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerModule } from 'inversify';
import { TOKENS } from '@arbor/core';
import type { Logger, Volumizer } from '@arbor/core';
import { OverlayVolumizer } from './overlay-volumizer';

/** OverlayVolumizerConfig is the part of TOKENS.BackendConfig the OverlayVolumizer reads. */
export interface OverlayVolumizerConfig {
  /** stateDir is like /var/lib/arbor; overlays live in <stateDir>/overlays. */
  stateDir: string;
  /** defaultRootfs is a directory or 'raw:///dir'; '' means DEFAULT_ROOTFS. */
  defaultRootfs: string;
  /** imageMaxUnpackedBytes bounds what one image pull unpacks, like 64 GiB; absent means DEFAULT_MAX_UNPACKED_BYTES. */
  imageMaxUnpackedBytes?: number;
}

/** overlayVolumizerModule binds TOKENS.Volumizer to an OverlayVolumizer over the config's stateDir, logging through TOKENS.Logger. */
export const overlayVolumizerModule = new ContainerModule(({ bind }) => {
  bind<Volumizer>(TOKENS.Volumizer)
    .toResolvedValue(
      (config: OverlayVolumizerConfig, logger: Logger) =>
        new OverlayVolumizer({
          stateDir: config.stateDir,
          defaultRootfs: config.defaultRootfs,
          logger,
          ...(config.imageMaxUnpackedBytes !== undefined && { maxUnpackedBytes: config.imageMaxUnpackedBytes }),
        }),
      [TOKENS.BackendConfig, TOKENS.Logger],
    )
    .inSingletonScope();
});

/**
 * diskQuotasEnforceable tells, without mounting anything, whether the OverlayVolumizer over
 * stateDir can open its btrfs quota filesystem (BtrfsQuotaVolumes): root, btrfs-progs on PATH,
 * a loop device, and <stateDir>/overlays either absent, empty, or already that filesystem.
 * A backend reports it as enforcesDiskLimits.
 */
export function diskQuotasEnforceable(stateDir: string): boolean {
  if (process.getuid?.() !== 0) return false;
  if (spawnSync('mkfs.btrfs', ['--version'], { stdio: 'ignore' }).status !== 0) return false;
  if (!existsSync('/dev/loop-control')) return false;
  const overlays = join(stateDir, 'overlays');
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === overlays && line.split(' - ')[1]?.startsWith('btrfs '));
  if (mounted) return true;
  try {
    return readdirSync(overlays).length === 0;
  } catch {
    return true;
  }
}
