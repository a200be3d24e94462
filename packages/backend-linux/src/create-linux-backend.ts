import { accessSync, constants, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { ArborError, Gardener, SystemClock, UuidHandleGenerator, silentLogger } from '@arbor/core';
import type { Containerizer, Logger, Networker } from '@arbor/core';
import { FileDepot } from '@arbor/depot';
import { OverlayVolumizer } from '@arbor/images';
import type { OverlayVolumizerOptions } from '@arbor/images';
import { BpfDeviceFilter } from './cgroup-driver';
import type { CgroupDriver } from './cgroup-driver';
import { CgroupV1Driver } from './cgroup-v1-driver';
import { CgroupV2Driver } from './cgroup-v2-driver';
import { defaultBusybox } from './linux-backend-config';
import type { LinuxBackendConfig } from './linux-backend-config';
import { LoopbackOnlyNetworker } from './loopback-only-networker';
import { NamespaceContainerizer } from './namespace-containerizer';
import { DEFAULT_HELPERS_DIR, HelperRunner } from '@arbor/host';
import type { HelperName } from '@arbor/host';

/**
 * hostCgroupDriver picks the driver for this host at start (not on a request path):
 * v2 when the unified hierarchy is mounted at the root, v1 otherwise. parent is the group
 * the containers' cgroups sit in, like 'arbor'; helpers run arbor-devices, which restricts the
 * devices of every group on the unified hierarchy.
 * @throws ArborError naming what is missing
 */
export function hostCgroupDriver(root = '/sys/fs/cgroup', parent = 'arbor', helpers?: HelperRunner): CgroupDriver {
  const devices = new BpfDeviceFilter(helpers);
  if (existsSync(join(root, 'cgroup.controllers'))) return new CgroupV2Driver(root, parent, devices);
  if (existsSync(join(root, 'memory', 'memory.limit_in_bytes'))) return new CgroupV1Driver(root, parent, devices);
  throw new ArborError('failedPrecondition', `linux backend: no cgroup v2 (${root}/cgroup.controllers) nor v1 memory controller (${root}/memory)`);
}

/** DEFAULT_STATE_DIR is arbord's default state dir; its containers' cgroups sit in the plain parent. */
const DEFAULT_STATE_DIR = '/var/lib/arbor';

/**
 * cgroupParentFor names the cgroup that a state dir's containers sit in: base (like 'arbor')
 * plus '-<tag>' for a tag (like 'arbor-x'), plus a hash of the path for a state dir other than
 * /var/lib/arbor (like 'arbor-x-0123456789ab'). Two arbords on one host (or a test run beside
 * arbord) then never see, nor sweep at start, each other's containers.
 */
export function cgroupParentFor(base: string, stateDir: string, tag = ''): string {
  const dir = resolve(stateDir);
  const tagged = tag === '' ? base : `${base}-${tag}`;
  if (dir === DEFAULT_STATE_DIR) return tagged;
  return `${tagged}-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`;
}

/**
 * hostHelpers finds what a real backend runs on the host: the built native/ helpers it names
 * and the static busybox that streams files.
 * @throws ArborError naming the backend, what is missing and how to fix it
 */
export function hostHelpers(backend: string, config: Pick<LinuxBackendConfig, 'helpersDir' | 'busybox'>, names: readonly HelperName[]): { helpers: HelperRunner; busybox: string } {
  const helpers = new HelperRunner(config.helpersDir ?? DEFAULT_HELPERS_DIR);
  for (const name of names) {
    try {
      accessSync(helpers.path(name), constants.X_OK);
    } catch {
      throw new ArborError('failedPrecondition', `${backend} backend: ${name} not found at ${helpers.path(name)}: build the helpers with make -C native`);
    }
  }
  const busybox = config.busybox ?? defaultBusybox();
  if (!existsSync(busybox)) {
    throw new ArborError('failedPrecondition', `${backend} backend: ${busybox} not found: build the default rootfs with scripts/build-rootfs.sh`);
  }
  return { helpers, busybox };
}

/**
 * makeNamespaceContainerizer checks that this host can serve the linux backend (root, the
 * built helpers, a static busybox) and builds the containerizer.
 * @throws ArborError saying what is missing and how to fix it
 */
export function makeNamespaceContainerizer(config: LinuxBackendConfig, logger: Logger = silentLogger): NamespaceContainerizer {
  if (process.getuid?.() !== 0) throw new ArborError('failedPrecondition', 'linux backend: arbord must run as root (namespaces, cgroups, mounts)');
  const { helpers, busybox } = hostHelpers('linux', config, ['arbor-create', 'arbor-exec', 'arbor-init', 'arbor-tar', 'arbor-devices']);
  return new NamespaceContainerizer({
    stateDir: config.stateDir,
    cgroups: hostCgroupDriver(config.cgroupRoot, cgroupParentFor('arbor', config.stateDir, config.tag), helpers),
    helpers,
    busybox,
    ...(config.stopTimeoutMs !== undefined && { stopTimeoutMs: config.stopTimeoutMs }),
    ...(config.maxContainers ? { maxContainers: config.maxContainers } : {}),
    logger,
  });
}

/** volumizerOptions are the OverlayVolumizer's options from a backend config, as arbord and createHostBackend both make it. */
export function volumizerOptions(config: LinuxBackendConfig): OverlayVolumizerOptions {
  return {
    stateDir: config.stateDir,
    defaultRootfs: config.defaultRootfs,
    ...(config.imageMaxUnpackedBytes !== undefined && { maxUnpackedBytes: config.imageMaxUnpackedBytes }),
  };
}

export interface LinuxBackendOptions extends LinuxBackendConfig {
  logger?: Logger;
  /** networker: default LoopbackOnlyNetworker. */
  networker?: Networker;
  defaultGraceTimeMs?: number;
  /** defaultPidLimit is the pid limit of containers created without one (GardenerConfig.defaultPidLimit); absent or 0: none. */
  defaultPidLimit?: number;
}

/** createLinuxBackend returns a Gardener over the linux ports, for in-process use and tests; call start() first. */
export function createLinuxBackend(options: LinuxBackendOptions): Gardener {
  const logger = options.logger ?? silentLogger;
  return createHostBackend(makeNamespaceContainerizer(options, logger), options);
}

/**
 * createHostBackend composes a Gardener from a containerizer and the host ports the real
 * backends share: the overlay Volumizer, the FileDepot and (by default) a LoopbackOnlyNetworker.
 */
export function createHostBackend(containerizer: Containerizer, options: LinuxBackendOptions): Gardener {
  const logger = options.logger ?? silentLogger;
  return new Gardener({
    containerizer,
    networker: options.networker ?? new LoopbackOnlyNetworker(),
    volumizer: new OverlayVolumizer(volumizerOptions(options)),
    depot: new FileDepot(options.stateDir),
    handleGenerator: new UuidHandleGenerator(),
    clock: new SystemClock(),
    logger,
    config: {
      defaultGraceTimeMs: options.defaultGraceTimeMs ?? 0,
      maxContainers: options.maxContainers ?? 0,
      ...(options.defaultPidLimit !== undefined && { defaultPidLimit: options.defaultPidLimit }),
    },
  });
}
