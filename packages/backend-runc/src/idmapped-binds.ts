import { mkdir, readdir, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { BindMount } from '@arbor/core';
import { userNamespaceUnsupported } from '@arbor/host';
import type { HelperRunner, IdRange } from '@arbor/host';

/** IDMAP_BINDS_DIR is where in a container's bundle its idmapped bind sources are attached, like <bundle>/idmap-binds/0. */
const IDMAP_BINDS_DIR = 'idmap-binds';

/**
 * attachIdmappedBinds attaches, for each host bind mount asking for idmap, a copy of its
 * source idmapped into the container's range at <bundle>/idmap-binds/<i> (arbor-mount
 * idmap-bind: host uid N shows as the container's uid N), and returns the mounts with that
 * copy as their source: runc 1.1 has no idmapped mounts of its own and binds what it is
 * given (its bind of an idmapped mount stays idmapped; ro stays runc's rro). Without
 * idRange (a privileged container, whose ids are the host's) the mounts come back as they are.
 * @throws ArborError 'failedPrecondition' for a source whose filesystem refuses idmapped mounts
 * @throws HelperError for a source that cannot be copied (it vanished since the create checked it)
 */
export async function attachIdmappedBinds(helpers: HelperRunner, bundle: string, mounts: BindMount[], idRange: IdRange | undefined): Promise<BindMount[]> {
  if (!idRange || !mounts.some((m) => m.idmap)) return mounts;
  await mkdir(join(bundle, IDMAP_BINDS_DIR), { recursive: true, mode: 0o700 });
  const out: BindMount[] = [];
  for (const [i, m] of mounts.entries()) {
    if (!m.idmap) {
      out.push(m);
      continue;
    }
    const copy = join(bundle, IDMAP_BINDS_DIR, String(i));
    await helpers.run('arbor-mount', ['idmap-bind', m.srcPath, copy, `${idRange.hostId}:${idRange.size}`]).catch((err: unknown) => {
      throw userNamespaceUnsupported('runc', err);
    });
    out.push({ srcPath: copy, dstPath: m.dstPath, mode: m.mode, origin: 'host' });
  }
  return out;
}

/**
 * detachIdmappedBinds detaches and removes what attachIdmappedBinds attached in bundle:
 * once runc has run, the container holds copies of its own, and no host dir may stay
 * mounted under the depot dir, which destroy removes whole. Nothing there is not an error.
 * @throws HelperError or an fs error (EBUSY) when a copy cannot be detached or removed: it stays, and a later destroy retries
 */
export async function detachIdmappedBinds(helpers: HelperRunner, bundle: string): Promise<void> {
  const dir = join(bundle, IDMAP_BINDS_DIR);
  const copies = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  for (const name of copies) {
    const copy = join(dir, name);
    await helpers.run('arbor-mount', ['detach', copy]);
    // never a recursive removal: a copy still mounted (EBUSY) must not lead it into the host's dir
    await rmdir(copy).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOTDIR' ? unlink(copy) : Promise.reject(err)));
  }
  await rmdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
}
