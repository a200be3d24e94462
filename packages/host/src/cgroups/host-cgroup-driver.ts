import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ArborError } from '@arbor/core';
import type { HelperRunner } from '../run-helper';
import { BpfDeviceFilter } from './cgroup-driver';
import type { CgroupDriver } from './cgroup-driver';
import { CgroupV1Driver } from './cgroup-v1-driver';
import { CgroupV2Driver } from './cgroup-v2-driver';

/**
 * hostCgroupDriver is the one factory of CgroupDrivers; it picks the driver for this host at
 * start (not on a request path): v2 when the unified hierarchy is mounted at root, v1 when
 * the v1 memory controller is. parent is the group the containers' cgroups sit in, like
 * 'arbor' (see cgroupParentFor); helpers run arbor-devices, which restricts the devices of
 * every group on the unified hierarchy.
 * @throws ArborError 'failedPrecondition' naming what this host lacks
 */
export function hostCgroupDriver(root = '/sys/fs/cgroup', parent = 'arbor', helpers?: HelperRunner): CgroupDriver {
  const devices = new BpfDeviceFilter(helpers);
  if (existsSync(join(root, 'cgroup.controllers'))) return new CgroupV2Driver(root, parent, devices);
  if (existsSync(join(root, 'memory', 'memory.limit_in_bytes'))) return new CgroupV1Driver(root, parent, devices);
  throw new ArborError(
    'failedPrecondition',
    `cgroups: this host cannot limit containers: neither cgroup v2 (${root}/cgroup.controllers) nor the v1 memory controller (${root}/memory) is mounted`,
  );
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
