import { readFile } from 'node:fs/promises';
import type { FakeFilesystem } from './fake-filesystem';

/** HOSTNAME_LENGTH: a container's hostname is the last 49 characters of its handle. */
const HOSTNAME_LENGTH = 49;

/**
 * writeEtcFiles writes what Garden bind-mounts into every container: /etc/hostname,
 * /etc/hosts and /etc/resolv.conf (the host's nameservers, loopback ones left out), owned
 * by root and writable by root only. They are mounts, not the container's writes, so they
 * do not count as its disk use.
 */
export async function writeEtcFiles(fs: FakeFilesystem, hostname: string): Promise<void> {
  const hostResolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const nameservers = hostResolv
    .split('\n')
    .map((l) => /^nameserver\s+(\S+)/.exec(l.trim())?.[1])
    .filter((ip): ip is string => ip !== undefined && !ip.startsWith('127.') && ip !== '::1');
  const resolv = (nameservers.length > 0 ? nameservers : ['8.8.8.8']).map((ip) => `nameserver ${ip}\n`).join('');
  fs.asImage(() => {
    if (!fs.tryResolve('/etc')) fs.mkdir('/etc', 0o755);
    fs.writeFile('/etc/hostname', `${hostname}\n`, { mode: 0o644 });
    fs.writeFile('/etc/resolv.conf', resolv, { mode: 0o644 });
  });
  writeHostsFile(fs, hostname, undefined);
}

/** writeHostsFile writes /etc/hosts: localhost, and the container's address once it has one. */
export function writeHostsFile(fs: FakeFilesystem, hostname: string, containerIp: string | undefined): void {
  const own = containerIp ? `${containerIp}\t${hostname}\n` : `127.0.0.1\t${hostname}\n`;
  fs.asImage(() => fs.writeFile('/etc/hosts', `127.0.0.1\tlocalhost\n${own}`, { mode: 0o644 }));
}

/** hostnameOf is the hostname Garden gives a container: the last 49 characters of its handle. */
export function hostnameOf(handle: string): string {
  return handle.slice(-HOSTNAME_LENGTH);
}
