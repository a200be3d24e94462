import { InvalidArgumentError as UsageError } from 'commander';
import { RESOURCE_LIMIT_NAMES } from '@arbor/core';
import type { BindMount, IpRange, PortMapping, PortRange, ResourceLimitName } from '@arbor/core';

// Option parsers for the arbor CLI: each turns a flag's text into a value or throws
// commander's InvalidArgumentError, which commander reports as a usage error.

const sizeUnits: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** parseSize: '1024', '512M', '1.5G', '2GiB', '64k' -> bytes (binary units). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  const bytes = m ? Math.round(Number(m[1]) * (sizeUnits[(m[2] ?? '').toLowerCase()] ?? 1)) : NaN;
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`'${text}' is not a size like 1024, 64K, 512M or 2G`);
  return bytes;
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** parseDuration: '1500' (ms), '1500ms', '10s', '5m', '1h' -> milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const ms = m ? Math.round(Number(m[1]) * (durationUnits[m[2] ?? 'ms'] ?? 1)) : NaN;
  if (!Number.isSafeInteger(ms)) throw new UsageError(`'${text}' is not a duration like 1500 (ms), 10s, 5m or 1h`);
  return ms;
}

/** parseCount: a whole number, 0 or more. */
export function parseCount(text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new UsageError(`'${text}' is not a whole number`);
  return Number(text);
}

/** parsePort: 0-65535. */
export function parsePort(text: string): number {
  const n = parseCount(text);
  if (n > 65535) throw new UsageError(`'${text}' is not a port (0-65535)`);
  return n;
}

/** collect gathers a repeatable option's values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** parseKeyValue: 'k=v' -> ['k', 'v']; the value may hold '='. */
export function parseKeyValue(text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`'${text}' must look like key=value`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** parseProperties: ['a=1', 'b=2'] -> { a: '1', b: '2' }. */
export function parseProperties(pairs: readonly string[]): Record<string, string> {
  return Object.fromEntries(pairs.map(parseKeyValue));
}

/**
 * parseBindMount: 'src:dst', then options after a ':' joined by ',': ro (the default) or rw,
 * and idmap (the host's ids shown as the container's own in a user namespace), like
 * '/srv:/data', '/srv:/data:rw' or '/srv:/data:rw,idmap'. Always from the host.
 */
export function parseBindMount(text: string): BindMount {
  const parts = text.split(':');
  const [srcPath, dstPath, options = ''] = parts;
  const flags = options === '' ? [] : options.split(',');
  const modes = flags.filter((f) => f === 'ro' || f === 'rw');
  const known = flags.every((f) => f === 'ro' || f === 'rw' || f === 'idmap') && new Set(flags).size === flags.length;
  if (parts.length < 2 || parts.length > 3 || !srcPath || !dstPath || (parts.length === 3 && !flags.length) || !known || modes.length > 1) {
    throw new UsageError(`'${text}' must look like /host/dir:/container/dir[:ro|rw][,idmap]`);
  }
  const mount: BindMount = { srcPath, dstPath, mode: modes[0] ?? 'ro', origin: 'host' };
  if (flags.includes('idmap')) mount.idmap = true;
  return mount;
}

/** parsePortMapping: 'host:container', like '8080:80' (0 as host port takes one from the pool). */
export function parsePortMapping(text: string): PortMapping {
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m) throw new UsageError(`'${text}' must look like hostPort:containerPort, like 8080:80`);
  return { hostPort: parsePort(m[1] ?? ''), containerPort: parsePort(m[2] ?? '') };
}

/** parseIpRange: '10.0.0.1' or '10.0.0.1-10.0.0.255'. The server checks the addresses. */
export function parseIpRange(text: string): IpRange {
  const [start, end = start, extra] = text.split('-');
  if (!start || extra !== undefined) throw new UsageError(`'${text}' must look like 10.0.0.1 or 10.0.0.1-10.0.0.255`);
  return { start, end: end || start };
}

/** parsePortRange: '80' or '8000-8080'. */
export function parsePortRange(text: string): PortRange {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!m) throw new UsageError(`'${text}' must look like 80 or 8000-8080`);
  const start = parsePort(m[1] ?? '');
  return { start, end: m[2] === undefined ? start : parsePort(m[2]) };
}

/** parseRlimits: ['nofile=1024', 'core=0'] -> { nofile: 1024, core: 0 }. */
export function parseRlimits(pairs: readonly string[]): Partial<Record<ResourceLimitName, number>> {
  const out: Partial<Record<ResourceLimitName, number>> = {};
  for (const pair of pairs) {
    const [name, value] = parseKeyValue(pair);
    if (!RESOURCE_LIMIT_NAMES.includes(name as ResourceLimitName)) {
      throw new UsageError(`unknown rlimit '${name}': use one of ${RESOURCE_LIMIT_NAMES.join(', ')}`);
    }
    out[name as ResourceLimitName] = parseCount(value);
  }
  return out;
}

/** parseAddress: '/path/to.sock' means a unix socket; anything else is used as is. */
export function parseAddress(text: string): string {
  return text.startsWith('/') ? `unix://${text}` : text;
}
