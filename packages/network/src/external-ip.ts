import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';

/**
 * detectExternalIp returns the IPv4 address of the interface holding the host's default
 * route (lowest metric), like '192.0.2.2', read from the routing table: no packet is sent.
 * It returns '' when the host has no default route.
 */
export async function detectExternalIp(routeTable = '/proc/net/route'): Promise<string> {
  const text = await readFile(routeTable, 'utf8').catch(() => '');
  const iface = defaultRouteInterface(text);
  if (!iface) return '';
  const address = (networkInterfaces()[iface] ?? []).find((a) => a.family === 'IPv4');
  return address?.address ?? '';
}

/** defaultRouteInterface picks the interface of the default route with the lowest metric in /proc/net/route text. */
export function defaultRouteInterface(routeTableText: string): string | undefined {
  let best: { iface: string; metric: number } | undefined;
  for (const line of routeTableText.split('\n').slice(1)) {
    const [iface, destination, , flags, , , metric, mask] = line.trim().split(/\s+/);
    if (!iface || destination !== '00000000' || mask !== '00000000') continue;
    // RTF_UP is 0x1: a route that is down carries nothing.
    if ((parseInt(flags ?? '0', 16) & 1) === 0) continue;
    const m = Number(metric ?? 0);
    if (!best || m < best.metric) best = { iface, metric: m };
  }
  return best?.iface;
}
