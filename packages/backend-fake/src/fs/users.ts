import { InvalidArgumentError } from '@arbor/core';
import { contentOf, type FakeFilesystem } from './fake-filesystem';

/** User is a resolved process user, like { name: 'vcap', uid: 1000, gid: 1000, home: '/home/vcap' }. */
export interface User {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** passwdEntries reads /etc/passwd of a container; a missing or unreadable file has no entries. */
export function passwdEntries(fs: FakeFilesystem): User[] {
  return readLines(fs, '/etc/passwd').flatMap((line) => {
    const [name, , uid, gid, , home] = line.split(':');
    if (!name || uid === undefined || gid === undefined || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) return [];
    return [{ name, uid: Number(uid), gid: Number(gid), home: home || '/' }];
  });
}

/** groupName returns the name /etc/group gives gid, or undefined. */
export function groupName(fs: FakeFilesystem, gid: number): string | undefined {
  for (const line of readLines(fs, '/etc/group')) {
    const [name, , id] = line.split(':');
    if (name && id === String(gid)) return name;
  }
  return undefined;
}

/** userName returns the name /etc/passwd gives uid, or undefined. */
export function userName(fs: FakeFilesystem, uid: number): string | undefined {
  return passwdEntries(fs).find((e) => e.uid === uid)?.name;
}

/**
 * resolveUser turns a process spec's user into a User: '' is root; a name is looked up in
 * the container's /etc/passwd; 'uid:gid' (or a bare uid) is taken as is, with the name and
 * home of a passwd entry for that uid when there is one (else the uid as text and '/').
 * @throws InvalidArgumentError('user') for a name the container does not know
 */
export function resolveUser(fs: FakeFilesystem, user: string): User {
  const entries = passwdEntries(fs);
  const numeric = /^(\d+)(?::(\d+))?$/.exec(user);
  if (user === '' || user === 'root') {
    const root = entries.find((e) => e.name === 'root');
    return { name: 'root', uid: 0, gid: 0, home: root?.home ?? '/root' };
  }
  if (numeric) {
    const uid = Number(numeric[1]);
    const entry = entries.find((e) => e.uid === uid);
    const gid = numeric[2] !== undefined ? Number(numeric[2]) : (entry?.gid ?? uid);
    return { name: entry?.name ?? String(uid), uid, gid, home: entry?.home ?? '/' };
  }
  const entry = entries.find((e) => e.name === user);
  if (!entry) {
    throw new InvalidArgumentError('user', `unknown user '${user}': the container's /etc/passwd has no such user (use a name from it or uid:gid)`);
  }
  return { name: entry.name, uid: entry.uid, gid: entry.gid, home: entry.home };
}

function readLines(fs: FakeFilesystem, path: string): string[] {
  const found = fs.tryResolve(path);
  if (!found || found.inode.kind !== 'file') return [];
  return contentOf(found.inode)
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));
}
