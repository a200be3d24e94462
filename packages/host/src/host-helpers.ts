import { accessSync, constants, existsSync } from 'node:fs';
import { ArborError } from '@arbor/core';
import { DEFAULT_HELPERS_DIR, HelperRunner } from './run-helper';
import type { HelperName } from './run-helper';

/**
 * DEFAULT_BUSYBOX is the static busybox of the default rootfs that scripts/build-rootfs.sh
 * builds (in @arbor/images' DEFAULT_ROOTFS), trusted because Arbor built it.
 */
export const DEFAULT_BUSYBOX = '/var/lib/arbor/rootfs/busybox/bin/busybox';

/** HostHelpersConfig is where a real backend finds what it runs on the host; absent fields take the defaults. */
export interface HostHelpersConfig {
  /** helpersDir holds the built native/ helpers, like /opt/arbor/native/build; default DEFAULT_HELPERS_DIR. */
  helpersDir?: string;
  /** busybox is the static busybox whose tar applet streams files; default DEFAULT_BUSYBOX. */
  busybox?: string;
}

/**
 * hostHelpers finds what a real backend runs on the host: the built native/ helpers it names
 * and the static busybox that streams files. backend names the backend in the message, like 'runc'.
 * @throws ArborError 'failedPrecondition' naming the backend, what is missing and how to fix it
 */
export function hostHelpers(backend: string, config: HostHelpersConfig, names: readonly HelperName[]): { helpers: HelperRunner; busybox: string } {
  const helpers = new HelperRunner(config.helpersDir ?? DEFAULT_HELPERS_DIR);
  for (const name of names) {
    try {
      accessSync(helpers.path(name), constants.X_OK);
    } catch {
      throw new ArborError('failedPrecondition', `${backend} backend: ${name} not found at ${helpers.path(name)}: build the helpers with make -C native`);
    }
  }
  const busybox = config.busybox ?? DEFAULT_BUSYBOX;
  if (!existsSync(busybox)) {
    throw new ArborError('failedPrecondition', `${backend} backend: ${busybox} not found: build the default rootfs with scripts/build-rootfs.sh`);
  }
  return { helpers, busybox };
}

/**
 * requireRoot fails at start on a host where arbord is not root: a real backend makes
 * namespaces, cgroups and mounts. what says what needs it, like 'linux backend'.
 * @throws ArborError 'failedPrecondition'
 */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new ArborError('failedPrecondition', `${what}: arbord must run as root (namespaces, cgroups, mounts)`);
}
