import { readFile } from 'node:fs/promises';
import type { FakeFilesystem } from './fake-filesystem';

/** HOSTNAME_LENGTH: a container's hostname is the last 49 characters of its handle. */
const HOSTNAME_LENGTH = 49;

/** RESOLV_CONF_MAX_AGE_MS: how long a read of the host's /etc/resolv.conf serves creates before it is read again. */
const RESOLV_CONF_MAX_AGE_MS = 1000;

/**
 * HostResolvConf is the container's /etc/resolv.conf: the host's nameservers, loopback ones
 * left out (8.8.8.8 when none is left). The host file is read at most once a second, so that
 * a burst of creates does not read it once each.
 */
export class HostResolvConf {
  private cached: { text: Promise<string>; readAtMs: number } | undefined;

  constructor(
    private readonly path = '/etc/resolv.conf',
    private readonly now: () => number = Date.now,
  ) {}

  text(): Promise<string> {
    const now = this.now();
    if (!this.cached || now - this.cached.readAtMs >= RESOLV_CONF_MAX_AGE_MS) {
      this.cached = { text: readFile(this.path, 'utf8').then(containerResolvConf, () => containerResolvConf('')), readAtMs: now };
    }
    return this.cached.text;
  }
}

function containerResolvConf(hostResolv: string): string {
  const nameservers = hostResolv
    .split('\n')
    .map((l) => /^nameserver\s+(\S+)/.exec(l.trim())?.[1])
    .filter((ip): ip is string => ip !== undefined && !ip.startsWith('127.') && ip !== '::1');
  return (nameservers.length > 0 ? nameservers : ['8.8.8.8']).map((ip) => `nameserver ${ip}\n`).join('');
}

/**
 * writeEtcFiles writes what Garden bind-mounts into every container: /etc/hostname,
 * /etc/hosts and /etc/resolv.conf (resolv, from HostResolvConf), owned by root and writable
 * by root only. They are mounts, not the container's writes, so they do not count as its
 * disk use.
 */
export function writeEtcFiles(fs: FakeFilesystem, hostname: string, resolv: string): void {
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
