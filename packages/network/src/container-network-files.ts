import { lstat, mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ArborError } from '@arbor/core';
import { writeFileAtomically } from '@arbor/depot';

export interface ContainerNetworkFiles {
  /** hostname is the container's, like the last 49 characters of its handle. */
  hostname: string;
  /** containerIp is from the Networker's setup, like '10.254.0.2'; '' writes no line for it. */
  containerIp: string;
  /** nameservers, when given, are written as they are instead of the host's. */
  nameservers?: readonly string[];
  /** hostResolvConf is the file the host's nameservers come from, like '/etc/resolv.conf'. */
  hostResolvConf?: string;
  /** owner is the host uid and gid of the container's root (user namespaces), like { uid: 100000, gid: 100000 }; default root. */
  owner?: { uid: number; gid: number };
}

/** systemd-resolved's list of the real upstream servers, used when the host file only has a loopback stub. */
const RESOLVED_UPSTREAM = '/run/systemd/resolve/resolv.conf';

/**
 * writeContainerNetworkFiles writes <rootfs>/etc/hosts (localhost and the container's
 * hostname) and <rootfs>/etc/resolv.conf (the host's nameservers without loopback ones, which
 * mean nothing inside the container, plus its search and options lines). The containerizer
 * calls it after setup and before the container's first process. Files go in by rename, so a
 * symlink planted by the image at etc/hosts is replaced rather than followed; etc itself must
 * be a real directory.
 * @throws ArborError failedPrecondition when <rootfs>/etc is a symlink or not a directory
 */
export async function writeContainerNetworkFiles(rootfsPath: string, files: ContainerNetworkFiles): Promise<void> {
  const etc = path.join(rootfsPath, 'etc');
  await mkdir(etc, { recursive: true, mode: 0o755 });
  const stat = await lstat(etc);
  if (!stat.isDirectory()) {
    throw new ArborError('failedPrecondition', `network files: ${etc} is not a directory: the image's /etc must be a real directory`);
  }
  const hosts = [
    '127.0.0.1 localhost',
    '::1 localhost ip6-localhost ip6-loopback',
    ...(files.containerIp ? [`${files.containerIp} ${files.hostname}`] : []),
    '',
  ].join('\n');
  // 0644: the container's root may change them, its other users only read them. Not synced:
  // the container's rootfs does not outlive a host crash.
  await writeFileAtomically(path.join(etc, 'hosts'), hosts, 0o644, { sync: false, owner: files.owner });
  await writeFileAtomically(path.join(etc, 'resolv.conf'), await resolvConf(files), 0o644, { sync: false, owner: files.owner });
}

async function resolvConf(files: ContainerNetworkFiles): Promise<string> {
  if (files.nameservers) return [...files.nameservers.map((ns) => `nameserver ${ns}`), ''].join('\n');
  const host = await readFile(files.hostResolvConf ?? '/etc/resolv.conf', 'utf8').catch(() => '');
  let parsed = parseResolvConf(host);
  if (parsed.nameservers.length === 0 && parsed.hadLoopback && files.hostResolvConf === undefined) {
    parsed = parseResolvConf(await readFile(RESOLVED_UPSTREAM, 'utf8').catch(() => ''));
  }
  return [...parsed.nameservers.map((ns) => `nameserver ${ns}`), ...parsed.other, ''].join('\n');
}

/** parseResolvConf keeps nameserver lines not on loopback, and search/domain/options lines. */
export function parseResolvConf(text: string): { nameservers: string[]; other: string[]; hadLoopback: boolean } {
  const nameservers: string[] = [];
  const other: string[] = [];
  let hadLoopback = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const [key, value] = line.split(/\s+/, 2);
    if (key === 'nameserver' && value) {
      if (/^127\./.test(value) || value === '::1') hadLoopback = true;
      else nameservers.push(value);
    } else if (key === 'search' || key === 'domain' || key === 'options') {
      other.push(line);
    }
  }
  return { nameservers, other, hadLoopback };
}
