import type { FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { InvalidTarError } from '@arbor/core';

/** TarIndexEntry says where an entry's bytes lie in an uncompressed tar file. */
export interface TarIndexEntry {
  name: string;
  /** offset is where the entry's data starts in the file. */
  offset: number;
  size: number;
  /** type is the tar typeflag: '0' file, '2' symlink, '5' directory, ... */
  type: string;
  linkname: string;
}

const BLOCK = 512;

function cString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? field.length : end).toString('utf8');
}

function octal(block: Buffer, start: number, length: number): number {
  const field = block.subarray(start, start + length);
  // base-256 (GNU) for sizes of 8 GiB and more
  if (((field[0] ?? 0) & 0x80) !== 0) {
    let value = 0;
    for (let i = 1; i < field.length; i += 1) value = value * 256 + (field[i] ?? 0);
    return value;
  }
  const text = cString(block, start, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function paxRecords(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let rest = data;
  while (rest.length > 0) {
    const space = rest.indexOf(0x20);
    const length = parseInt(rest.subarray(0, space).toString('ascii'), 10);
    if (space < 0 || !Number.isFinite(length) || length <= space || length > rest.length) break;
    const record = rest.subarray(space + 1, length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1);
    rest = rest.subarray(length);
  }
  return records;
}

/**
 * indexTar lists the entries of an uncompressed tar file (like a `docker save` archive)
 * with their data offsets, reading only headers, so that each layer inside can then be
 * streamed on its own. Names are normalized ('./manifest.json' -> 'manifest.json').
 * @throws InvalidTarError when a header is corrupt.
 */
export async function indexTar(file: FileHandle): Promise<Map<string, TarIndexEntry>> {
  const { size: fileSize } = await file.stat();
  const entries = new Map<string, TarIndexEntry>();
  const block = Buffer.alloc(BLOCK);
  let position = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  // Each pass moves position forward by at least one block: the loop ends with the file.
  while (position + BLOCK <= fileSize) {
    const { bytesRead } = await file.read(block, 0, BLOCK, position);
    if (bytesRead < BLOCK) throw new InvalidTarError('archive ends inside a header');
    if (block.every((byte) => byte === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i += 1) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    if (sum !== octal(block, 148, 8)) throw new InvalidTarError(`bad header checksum at offset ${position}`);
    const size = octal(block, 124, 12);
    const type = String.fromCharCode(block[156] ?? 0x30) || '0';
    const dataOffset = position + BLOCK;
    if (dataOffset + size > fileSize) throw new InvalidTarError(`entry at offset ${position} runs past the end of the archive`);
    position = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x' || type === 'L' || type === 'K') {
      if (size > 1024 * 1024) throw new InvalidTarError('extended header larger than 1 MiB');
      const data = Buffer.alloc(size);
      await file.read(data, 0, size, dataOffset);
      if (type === 'x') pax = paxRecords(data);
      else if (type === 'L') longName = cString(data, 0, size);
      else longLink = cString(data, 0, size);
      continue;
    }
    if (type === 'g') continue;
    const prefix = cString(block, 257, 6).startsWith('ustar') ? cString(block, 345, 155) : '';
    const rawName = pax.path ?? longName ?? (prefix ? `${prefix}/${cString(block, 0, 100)}` : cString(block, 0, 100));
    const linkname = pax.linkpath ?? longLink ?? cString(block, 157, 100);
    const realSize = pax.size !== undefined ? Number(pax.size) : size;
    const name = posix
      .normalize(rawName)
      .replace(/^(\.\/|\/)+/, '')
      .replace(/\/$/, '');
    entries.set(name, { name, offset: dataOffset, size: type === '0' || type === '\0' || type === '7' ? realSize : 0, type, linkname });
    pax = {};
    longName = undefined;
    longLink = undefined;
  }
  return entries;
}

/**
 * lookupFile finds a regular file in the index, following symlinks inside the archive
 * (newer `docker save` links '<id>/layer.tar' to 'blobs/sha256/<hex>'), at most 16 deep.
 */
export function lookupFile(entries: Map<string, TarIndexEntry>, name: string): TarIndexEntry | undefined {
  let current = posix.normalize(name).replace(/^(\.\/|\/)+/, '');
  for (let depth = 0; depth < 16; depth += 1) {
    const entry = entries.get(current);
    if (entry === undefined) return undefined;
    if (entry.type !== '2') return entry.type === '0' || entry.type === '\0' || entry.type === '7' ? entry : undefined;
    current = posix.normalize(posix.join(posix.dirname(current), entry.linkname)).replace(/^(\.\/|\/)+/, '');
  }
  return undefined;
}
