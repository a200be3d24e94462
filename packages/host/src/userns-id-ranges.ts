import { readFileSync } from 'node:fs';
import { ArborError } from '@arbor/core';
import type { DesiredContainer } from '@arbor/core';
import { IdRangeAllocator, checkSubordinateIds } from './id-range-allocator';
import { HELPER_EXIT, HelperError } from './run-helper';
import type { IdRange, UsernsConfig } from './id-range-allocator';

/** SUBORDINATE_ID_FILES are where the host gives users id ranges of their own (shadow's newuidmap reads them). */
export const SUBORDINATE_ID_FILES = ['/etc/subuid', '/etc/subgid'];

/**
 * DEFAULT_USERNS is what a backend composed without a userns section does: unprivileged
 * containers in user namespaces, 1e9 ids from 1e9 (above the ranges Debian's useradd gives
 * users in /etc/subuid and /etc/subgid, 100000 to 600100000: room for 15258 containers).
 */
export const DEFAULT_USERNS: UsernsConfig = { enabled: true, base: 1_000_000_000, size: 1_000_000_000, perContainer: 65536 };

/** usernsOf is a config's userns section with DEFAULT_USERNS filling what it leaves out. */
export function usernsOf(userns: Partial<UsernsConfig> | undefined): UsernsConfig {
  return { ...DEFAULT_USERNS, ...userns };
}

/**
 * usernsIdRanges is the allocator of a host backend's user-namespace ranges (undefined when
 * userns is off: every container's root is host root), after it checked that the pool is no
 * user's range in /etc/subuid or /etc/subgid (a missing file gives none).
 * @throws ArborError 'failedPrecondition' naming the overlapping line and the fix
 */
export function usernsIdRanges(section: Partial<UsernsConfig> | undefined, files: readonly string[] = SUBORDINATE_ID_FILES): IdRangeAllocator | undefined {
  const userns = usernsOf(section);
  if (!userns.enabled) return undefined;
  const read = (path: string) => {
    try {
      return { path, text: readFileSync(path, 'utf8') };
    } catch {
      return { path, text: '' };
    }
  };
  checkSubordinateIds(userns, files.map(read));
  return new IdRangeAllocator(userns);
}

/**
 * userNamespaceUnsupported turns a helper's EXIT_UNSUPPORTED (a kernel without idmapped
 * overlay layers, say) into the FAILED_PRECONDITION a create with userns.enabled answers:
 * never a host-root container instead. Any other error comes back as it is.
 */
export function userNamespaceUnsupported(backend: string, err: unknown): unknown {
  if (!(err instanceof HelperError) || err.exitCode !== HELPER_EXIT.unsupported) return err;
  return idmapUnsupported(`${backend} backend: userns.enabled, but ${err.stderr.trim()}`, err);
}

/** idmapUnsupported is the FAILED_PRECONDITION of a kernel that cannot idmap: what said so, then the fix. */
export function idmapUnsupported(what: string, cause: unknown): ArborError {
  return new ArborError('failedPrecondition', `${what}: turn userns.enabled off or run a kernel with idmapped overlay layers`, { cause });
}

/** rootfsIdmappedFor says the Volumizer mounted desired's rootfs for range already (Rootfs.idmappedFor), so the runtime need not. */
export function rootfsIdmappedFor(desired: DesiredContainer, range: IdRange): boolean {
  const ids = desired.rootfs.idmappedFor;
  return ids !== undefined && ids.hostId === range.hostId && ids.size === range.size;
}
