import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArborError, silentLogger } from '@arbor/core';
import type { Gardener, Logger } from '@arbor/core';
import { cgroupParentFor, createHostBackend, hostCgroupDriver, hostHelpers } from '@arbor/backend-linux';
import type { LinuxBackendConfig, LinuxBackendOptions } from '@arbor/backend-linux';
import { RuncCli, checkRuncVersion } from './runc-cli';
import { RuncContainerizer } from './runc-containerizer';

/** RuncBackendConfig is the linux backend's config plus the runc binary. */
export interface RuncBackendConfig extends LinuxBackendConfig {
  /** runcBinary is a path or a name looked up in PATH; default 'runc'. */
  runcBinary?: string;
}


/**
 * makeRuncContainerizer checks that this host can serve the runc backend (root, a runc of
 * 1.0 or later, the built helpers, a static busybox) and builds the containerizer. runc keeps
 * its state under <stateDir>/runc.
 * @throws ArborError saying what is missing and how to fix it
 */
export function makeRuncContainerizer(config: RuncBackendConfig, logger: Logger = silentLogger): RuncContainerizer {
  if (process.getuid?.() !== 0) throw new ArborError('failedPrecondition', 'runc backend: arbord must run as root');
  const binary = config.runcBinary || 'runc';
  const version = checkRuncVersion(binary);
  const { helpers, busybox } = hostHelpers('runc', config, ['arbor-exec', 'arbor-init', 'arbor-tar', 'arbor-devices']);
  const cgroupRoot = config.cgroupRoot ?? '/sys/fs/cgroup';
  // containers live in /sys/fs/cgroup/<controller>/arbor-runc[-<tag>][-<hash of a non-default stateDir>]/<handle>
  const cgroupParent = cgroupParentFor('arbor-runc', config.stateDir, config.tag);
  logger.info('runc-backend', { runc: binary, version });
  return new RuncContainerizer({
    stateDir: config.stateDir,
    runc: new RuncCli(binary, join(config.stateDir, 'runc')),
    cgroups: hostCgroupDriver(cgroupRoot, cgroupParent, helpers),
    cgroupParent,
    swapAccounting: existsSync(join(cgroupRoot, 'memory', 'memory.memsw.limit_in_bytes')),
    capBnd: /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '',
    helpers,
    busybox,
    ...(config.stopTimeoutMs !== undefined && { stopTimeoutMs: config.stopTimeoutMs }),
    ...(config.maxContainers ? { maxContainers: config.maxContainers } : {}),
    logger,
  });
}

export type RuncBackendOptions = LinuxBackendOptions & RuncBackendConfig;

/** createRuncBackend returns a Gardener over the runc ports, for in-process use and tests; call start() first. */
export function createRuncBackend(options: RuncBackendOptions): Gardener {
  return createHostBackend(makeRuncContainerizer(options, options.logger ?? silentLogger), options);
}
