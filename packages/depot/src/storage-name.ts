import { createHash } from 'node:crypto';

/** MAX_PLAIN_NAME: handles up to this length are used as file names as they are. */
const MAX_PLAIN_NAME = 128;

/**
 * storageName is the file name kept for a handle or process id: the name itself, or for a
 * name longer than 128 characters (they may have 256, file names only 255) its first 64
 * characters and a hash, like 'aaaa...-3f9c0e...'. Whoever needs the name back stores it in a
 * file inside (record.json holds the handle).
 */
export function storageName(name: string): string {
  if (name.length <= MAX_PLAIN_NAME) return name;
  return `${name.slice(0, 64)}-${createHash('sha256').update(name).digest('hex').slice(0, 32)}`;
}

/** isPlainName tells whether a file name is a name as it is (not shortened by storageName). */
export function isPlainName(fileName: string): boolean {
  return fileName.length <= MAX_PLAIN_NAME;
}
