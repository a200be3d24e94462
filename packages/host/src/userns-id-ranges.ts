import { readFileSync } from 'node:fs';
import { IdRangeAllocator, checkSubordinateIds } from '@arbor/host';
import type { UsernsConfig } from '@arbor/host';

/** SUBORDINATE_ID_FILES are where the host gives users id ranges of their own (shadow's newuidmap reads them). */
export const SUBORDINATE_ID_FILES = ['/etc/subuid', '/etc/subgid'];

/**
 * usernsIdRanges is the allocator of the linux backend's user-namespace ranges, after it
 * checked that the pool is no user's range in /etc/subuid or /etc/subgid (a missing file
 * gives none).
 * @throws ArborError 'failedPrecondition' naming the overlapping line and the fix
 */
export function usernsIdRanges(userns: UsernsConfig, files: readonly string[] = SUBORDINATE_ID_FILES): IdRangeAllocator {
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
