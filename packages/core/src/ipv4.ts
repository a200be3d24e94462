import { InvalidArgumentError } from './errors';

/** parseIPv4 turns '10.0.0.1' into 167772161. @throws InvalidArgumentError naming field */
export function parseIPv4(text: string, field: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255)) {
    throw new InvalidArgumentError(field, `'${text}' is not an IPv4 address like 10.0.0.1`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Cidr is a parsed 'a.b.c.d/n': the address as written and the network it lies in. */
export interface Cidr {
  address: number;
  prefixLength: number;
  /** network is the first address of the subnet. */
  network: number;
  /** broadcast is the last address of the subnet. */
  broadcast: number;
}

/** parseCidr parses '10.254.0.8/30'. @throws InvalidArgumentError naming field */
export function parseCidr(text: string, field: string): Cidr {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m || Number(m[2]) > 32) {
    throw new InvalidArgumentError(field, `'${text}' is not a CIDR like 10.254.0.8/30`);
  }
  const address = parseIPv4(m[1] ?? '', field);
  const prefixLength = Number(m[2]);
  const size = 2 ** (32 - prefixLength);
  const network = Math.floor(address / size) * size;
  return { address, prefixLength, network, broadcast: network + size - 1 };
}
