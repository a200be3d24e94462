import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import { extract as tarExtract, pack as tarPack } from 'tar-stream';
import type { Header } from 'tar-stream';
import { InvalidTarError } from '@arbor/core';

/**
 * guardTar passes a tar through, entry by entry, and fails with InvalidTarError on an entry
 * that could only mean harm: an absolute or '..' path, a hard link leaving the tree, a path
 * through a symlink the same tar made, or a device node. arbor-tar extracts inside the
 * container's mount namespace anyway (nothing outside can be reached); this check gives the
 * client a clear error instead of a silently rewritten path.
 */
export function guardTar(input: Readable): Readable {
  const extract = tarExtract();
  const pack = tarPack();
  const symlinks = new Set<string>();
  let count = 0;
  extract.on('entry', (header: Header, stream, next) => {
    count += 1;
    // a failing tar also fails the entry being read: extract's own error reports it
    stream.on('error', () => undefined);
    const problem = check(header, symlinks);
    if (problem) {
      stream.resume();
      next(new InvalidTarError(`entry '${header.name}' ${problem}`));
      return;
    }
    if (header.type === 'symlink') symlinks.add(normalize(header.name));
    const entry = pack.entry(header, (err) => next(err ?? undefined));
    // an entry cut short (the reader or the source gave up) fails with pack, which reports it
    entry.on('error', () => undefined);
    stream.pipe(entry);
  });
  const out = new PassThrough();
  // the reader of out gets its errors; without one, a late error must not crash arbord
  out.on('error', () => undefined);
  let stopped = false;
  // stop ends the guard's own streams quietly and lets go of the input (the caller's to end)
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    input.unpipe(extract as unknown as NodeJS.WritableStream);
    input.resume();
    extract.destroy();
    pack.destroy();
  };
  const fail = (err: Error): void => {
    if (!out.destroyed) out.destroy(InvalidTarError.is(err) ? err : new InvalidTarError(err.message, { cause: err }));
    stop();
  };
  // a reader that destroys out (a cancelled call, a tar that stopped reading) stops the guard
  out.on('close', stop);
  extract.on('finish', () => {
    if (count === 0) fail(new InvalidTarError('it holds no entries (empty or truncated)'));
    else pack.finalize();
  });
  pack.on('error', fail);
  extract.on('error', fail);
  pack.pipe(out);
  // not stream.pipeline: it would destroy the caller's input with the error, unhandled there
  input.on('error', fail);
  input.pipe(extract as unknown as NodeJS.WritableStream);
  return out;
}

function normalize(name: string): string {
  return name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}

function leaves(path: string): boolean {
  return path.startsWith('/') || path.split('/').includes('..');
}

function check(header: Header, symlinks: Set<string>): string | undefined {
  const name = normalize(header.name);
  if (leaves(header.name)) return 'would be written outside the destination (absolute path or ..)';
  if (header.type === 'block-device' || header.type === 'character-device') return 'is a device node: devices cannot be streamed in';
  if (header.type === 'link' && header.linkname && leaves(header.linkname)) {
    return `is a hard link to '${header.linkname}', outside the destination`;
  }
  const parts = name.split('/');
  for (let i = 1; i < parts.length; i++) {
    if (symlinks.has(parts.slice(0, i).join('/'))) return `goes through the symlink '${parts.slice(0, i).join('/')}' made by this tar`;
  }
  if (header.type === 'link' && header.linkname) {
    const target = normalize(header.linkname).split('/');
    for (let i = 1; i <= target.length; i++) {
      if (symlinks.has(target.slice(0, i).join('/'))) return `is a hard link through the symlink '${target.slice(0, i).join('/')}'`;
    }
  }
  return undefined;
}
