import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { chmod, link, lstat, mkdir, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { extract } from 'tar-stream';
import type { Header } from 'tar-stream';
import { TarEntryPolicy } from '@arbor/host';

/** Body is a tar entry's content stream (a streamx Readable). */
interface Body extends AsyncIterable<unknown> {
  resume(): unknown;
}

/** UnsafeTarEntryError: an entry the tar-entry policy refuses, like one that would land outside the target directory. */
export class UnsafeTarEntryError extends Error {
  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super(`refusing tar entry '${entry}': ${reason}`);
    this.name = 'UnsafeTarEntryError';
  }
}

/**
 * ensureDirectories creates dir/parts[0]/parts[1]/... as directories, refusing to pass
 * through a symlink: a tar that first plants 'x -> /etc' cannot then write 'x/passwd'.
 */
async function ensureDirectories(dir: string, parts: readonly string[], entry: string): Promise<void> {
  let path = dir;
  for (const part of parts) {
    path = join(path, part);
    const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!st) await mkdir(path);
    else if (st.isSymbolicLink()) throw new UnsafeTarEntryError(entry, `it passes through the symlink ${path}`);
    else if (!st.isDirectory()) throw new UnsafeTarEntryError(entry, `${path} is not a directory`);
  }
}

/** removeExisting unlinks a file or symlink at path, so that nothing is written through a link. */
async function removeExisting(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (st && !st.isDirectory()) await unlink(path);
}

/** ExtractOptions say how much of what the tar asks for is kept. */
export interface ExtractOptions {
  /**
   * preservePermissions keeps the setuid and setgid bits and gives files their mode as it is
   * (not masked by the umask). Off, a container cannot leave a setuid program (owned by
   * whoever extracts, root included) in the target directory.
   */
  preservePermissions?: boolean;
}

/**
 * policyOf is the tar-entry policy of a client extract: @arbor/host's TarEntryPolicy, with
 * devices and FIFOs left out (not something a client should create).
 */
function policyOf(): TarEntryPolicy {
  return new TarEntryPolicy({ devices: 'skip', fifos: 'skip', destination: 'target directory' });
}

async function extractEntry(dir: string, header: Header, body: Body, options: ExtractOptions, policy: TarEntryPolicy): Promise<void> {
  const decision = policy.check(header);
  if (decision.verdict === 'refuse') throw new UnsafeTarEntryError(header.name, decision.reason);
  if (decision.verdict === 'skip') {
    body.resume();
    return;
  }
  const parts = decision.parts;
  const preserve = options.preservePermissions ?? false;
  // the sticky bit stays: it takes rights away (only owners delete in such a directory)
  const mode = header.mode & (preserve ? 0o7777 : 0o1777);
  if (parts.length === 0) {
    body.resume();
    return;
  }
  const parents = parts.slice(0, -1);
  const path = join(dir, ...parts);
  await ensureDirectories(dir, parents, header.name);
  switch (header.type) {
    case 'directory':
      await ensureDirectories(dir, parts, header.name);
      await chmod(path, mode);
      body.resume();
      return;
    case 'file':
    case 'contiguous-file': {
      await removeExisting(path);
      // preserved, the mode is set once written: open applies the umask, and a write by
      // anyone but root clears setuid
      const out = createWriteStream(path, { mode: preserve ? 0o600 : mode, flags: 'wx' });
      for await (const chunk of body) {
        if (!out.write(chunk as Buffer)) await once(out, 'drain');
      }
      out.end();
      await finished(out);
      if (preserve) await chmod(path, mode);
      return;
    }
    case 'symlink':
      await removeExisting(path);
      await symlink(header.linkname, path);
      body.resume();
      return;
    case 'link': {
      const targetParts = decision.linkParts ?? [];
      await ensureDirectories(dir, targetParts.slice(0, -1), header.name);
      const target = join(dir, ...targetParts);
      await removeExisting(path);
      await link(target, path);
      body.resume();
      return;
    }
    default:
      body.resume();
  }
}

/**
 * extractTar unpacks an untrusted tar stream into dir (created if missing). Entries that
 * would leave dir (absolute names, '..', paths through a symlink: @arbor/host's
 * TarEntryPolicy, and symlinks found on disk) are refused, and the extraction stops with
 * UnsafeTarEntryError. Devices and fifos are skipped, and setuid and
 * setgid bits dropped unless options.preservePermissions.
 */
export async function extractTar(tar: Readable, dir: string, options: ExtractOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const ex = extract();
  const policy = policyOf();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, body, next) => {
      extractEntry(dir, header, body, options, policy).then(
        () => next(),
        (err: unknown) => {
          body.resume();
          next(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  const feed = async (): Promise<void> => {
    for await (const chunk of tar) {
      if (!ex.write(chunk as Buffer)) await once(ex, 'drain');
    }
    // streamx's end takes an optional last chunk; its types insist on one
    ex.end(undefined);
  };
  await Promise.all([
    feed().catch((err: unknown) => {
      ex.destroy(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }),
    done,
  ]);
}
