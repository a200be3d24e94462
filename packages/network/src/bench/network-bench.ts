// network-bench: network setup + teardown per container, LinuxNetworker beside the same work
// done with the `ip` and `iptables` commands, in one run on this machine. As root:
//   pnpm --filter @arbor/network bench [containers]     (default 50)
// Everything it makes is named 'arbx'/'arbx-' and removed at the end, even after a failure.
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { Iptables } from '../iptables';
import { LinuxNetworker } from '../linux-networker';
import { NetlinkHelper } from '../netlink-helper';

const run = promisify(execFile);
const NS_PREFIX = 'arbx-';

interface Timing {
  setupMs: number[];
  teardownMs: number[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

async function makeNamespaces(count: number, tag: string): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${NS_PREFIX}${tag}-${i}`;
    await run('ip', ['netns', 'add', name]);
    names.push(name);
  }
  return names;
}

/**
 * benchNetworker wires every namespace, then unwires them all ('batch'), or wires and unwires
 * one namespace after another ('one-at-a-time', as a create-run-destroy loop does).
 */
async function benchNetworker(networker: LinuxNetworker, namespaces: string[], order: 'batch' | 'one-at-a-time'): Promise<Timing & { settleMs: number }> {
  const timing: Timing = { setupMs: [], teardownMs: [] };
  const setup = (i: number, ns: string): Promise<unknown> => networker.setup(`bench-${i}`, { network: '', netnsPath: `/var/run/netns/${ns}` });
  if (order === 'batch') {
    for (const [i, ns] of namespaces.entries()) timing.setupMs.push(await timed(() => setup(i, ns)));
    for (const i of namespaces.keys()) timing.teardownMs.push(await timed(() => networker.destroy(`bench-${i}`)));
  } else {
    for (const [i, ns] of namespaces.entries()) {
      timing.setupMs.push(await timed(() => setup(i, ns)));
      timing.teardownMs.push(await timed(() => networker.destroy(`bench-${i}`)));
    }
  }
  const settleMs = await timed(() => networker.settle());
  return { ...timing, settleMs };
}

/** benchParts times the two halves of the LinuxNetworker's work alone: links (netlink) and one firewall change set. */
async function benchParts(namespaces: string[]): Promise<{ links: Timing; firewall: Timing }> {
  const helper = new NetlinkHelper();
  const iptables = new Iptables();
  const links: Timing = { setupMs: [], teardownMs: [] };
  const firewall: Timing = { setupMs: [], teardownMs: [] };
  try {
    for (const [i, ns] of namespaces.entries()) {
      const veth = `arbxp${i}`;
      const containerIp = `10.248.${Math.floor(i / 64)}.${(i % 64) * 4 + 2}`;
      const hostIp = `10.248.${Math.floor(i / 64)}.${(i % 64) * 4 + 1}`;
      const group = 0x0af80000 + i + 1;
      links.setupMs.push(await timed(() => helper.request('veth', veth, '-', `/var/run/netns/${ns}`, containerIp, 30, hostIp, 1500, group)));
      links.teardownMs.push(await timed(() => helper.request('unwire', group, veth, '-', '-')));
      const chain = `arbx-raw-p-${i}`;
      firewall.setupMs.push(await timed(() => iptables.apply({ filter: [`:${chain} - [0:0]`, `-A ${chain} -j ACCEPT`], nat: [] })));
      firewall.teardownMs.push(await timed(() => iptables.apply({ filter: [`:${chain} - [0:0]`, `-X ${chain}`], nat: [] })));
    }
    await helper.request('settle');
  } finally {
    await Promise.all([helper.close(), iptables.close()]);
  }
  return { links, firewall };
}

const RAW_CONTAINERS = 'arbx-raw-containers';
const RAW_NETIN = 'arbx-raw-netin';
const RAW_POSTROUTING = 'arbx-raw-post';

/** benchCommands does what setup and destroy do, one `ip` or `iptables` process per change: all up, then all down. */
async function benchCommands(namespaces: string[]): Promise<Timing> {
  const timing: Timing = { setupMs: [], teardownMs: [] };
  await run('iptables', ['-w', '-N', RAW_CONTAINERS]);
  await run('iptables', ['-w', '-t', 'nat', '-N', RAW_NETIN]);
  await run('iptables', ['-w', '-t', 'nat', '-N', RAW_POSTROUTING]);
  const ip = (...args: string[]): Promise<unknown> => run('ip', args);
  const iptables = (...args: string[]): Promise<unknown> => run('iptables', ['-w', ...args]);
  const names = (i: number): { veth: string; hostIp: string; containerIp: string; out: string; into: string } => ({
    veth: `arbxraw${i}`,
    hostIp: `10.249.${Math.floor(i / 64)}.${(i % 64) * 4 + 1}`,
    containerIp: `10.249.${Math.floor(i / 64)}.${(i % 64) * 4 + 2}`,
    out: `arbx-raw-o-${i}`,
    into: `arbx-raw-i-${i}`,
  });
  for (const [i, ns] of namespaces.entries()) {
    const { veth, hostIp, containerIp, out, into } = names(i);
    timing.setupMs.push(
      await timed(async () => {
        await ip('link', 'add', veth, 'mtu', '1500', 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', '1500', 'netns', ns);
        await ip('addr', 'add', `${hostIp}/30`, 'dev', veth);
        await ip('link', 'set', veth, 'up');
        await ip('-n', ns, 'link', 'set', 'lo', 'up');
        await ip('-n', ns, 'addr', 'add', `${containerIp}/30`, 'dev', 'eth0');
        await ip('-n', ns, 'link', 'set', 'eth0', 'up');
        await ip('-n', ns, 'route', 'add', 'default', 'via', hostIp);
        await iptables('-N', out);
        await iptables('-A', out, '-j', 'REJECT');
        await iptables('-A', RAW_CONTAINERS, '-s', `${containerIp}/32`, '-j', out);
        await iptables('-t', 'nat', '-N', into);
        await iptables('-t', 'nat', '-A', RAW_NETIN, '-j', into);
        await iptables('-t', 'nat', '-A', RAW_POSTROUTING, '-s', `${containerIp}/32`, '-j', 'MASQUERADE');
      }),
    );
  }
  for (const i of namespaces.keys()) {
    const { veth, containerIp, out, into } = names(i);
    timing.teardownMs.push(
      await timed(async () => {
        await iptables('-D', RAW_CONTAINERS, '-s', `${containerIp}/32`, '-j', out);
        await iptables('-F', out);
        await iptables('-X', out);
        await iptables('-t', 'nat', '-D', RAW_NETIN, '-j', into);
        await iptables('-t', 'nat', '-D', RAW_POSTROUTING, '-s', `${containerIp}/32`, '-j', 'MASQUERADE');
        await iptables('-t', 'nat', '-X', into);
        await ip('link', 'del', veth);
      }),
    );
  }
  return timing;
}

async function cleanUp(networker: LinuxNetworker): Promise<void> {
  await networker.removeAll().catch((err: unknown) => console.error('cleanup: networker:', String(err)));
  await networker.close();
  const save = await run('iptables-save').then(
    (r) => r.stdout,
    () => '',
  );
  const lines = save.split('\n');
  const rawChains = (table: string): string[] => {
    const start = lines.indexOf(`*${table}`);
    const end = lines.indexOf('COMMIT', start);
    return lines
      .slice(start, end)
      .filter((l) => l.startsWith(':arbx-raw'))
      .map((l) => l.slice(1).split(' ')[0] ?? '');
  };
  for (const table of ['filter', 'nat']) {
    for (const chain of rawChains(table)) await run('iptables', ['-w', '-t', table, '-F', chain]).catch(() => undefined);
    for (const chain of rawChains(table)) await run('iptables', ['-w', '-t', table, '-X', chain]).catch(() => undefined);
  }
  const links = await run('ip', ['-o', 'link', 'show']).then(
    (r) => r.stdout,
    () => '',
  );
  for (const m of links.matchAll(/^\d+: (arbx(?:raw|p)\d+)[@:]/gm)) await run('ip', ['link', 'del', m[1] ?? '']).catch(() => undefined);
  const netns = await run('ip', ['netns', 'list']).then(
    (r) => r.stdout,
    () => '',
  );
  for (const line of netns.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (name.startsWith(NS_PREFIX)) await run('ip', ['netns', 'del', name]).catch(() => undefined);
  }
}

function report(name: string, t: Timing): { total: number } {
  const total = t.setupMs.map((s, i) => s + (t.teardownMs[i] ?? 0));
  console.log(
    `${name.padEnd(26)} setup ${mean(t.setupMs).toFixed(2).padStart(7)} ms (p50 ${median(t.setupMs).toFixed(2)})` +
      `  teardown ${mean(t.teardownMs).toFixed(2).padStart(7)} ms (p50 ${median(t.teardownMs).toFixed(2)})` +
      `  total ${mean(total).toFixed(2).padStart(7)} ms`,
  );
  return { total: mean(total) };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('network-bench needs root (it makes namespaces, links and chains)');
  const count = Number(process.argv[2] ?? 50);
  const networker = new LinuxNetworker({ prefix: 'arbx', networkPool: '10.250.0.0/20' });
  try {
    await networker.restore([]);
    const warm = await makeNamespaces(3, 'warm');
    await benchNetworker(networker, warm, 'batch');
    const forBatch = await makeNamespaces(count, 'n');
    const forOneByOne = await makeNamespaces(count, 'o');
    const forCommands = await makeNamespaces(count, 'c');
    console.log(`network setup + teardown per container, ${count} containers: all set up, then all torn down`);
    const batch = await benchNetworker(networker, forBatch, 'batch');
    const ours = report('LinuxNetworker', batch);
    console.log(`${''.padEnd(26)} + kernel link deletion after destroy returned: ${(batch.settleMs / count).toFixed(2)} ms per container`);
    const theirs = report('ip + iptables commands', await benchCommands(forCommands));
    console.log(`ratio (commands / LinuxNetworker): ${(theirs.total / ours.total).toFixed(1)}x`);
    console.log('one at a time (set up, tear down, next):');
    report('LinuxNetworker', await benchNetworker(networker, forOneByOne, 'one-at-a-time'));
    const parts = await benchParts(await makeNamespaces(count, 'p'));
    console.log('where the LinuxNetworker spends it (links and firewall run side by side):');
    report('  links (arbor-net netlink)', parts.links);
    report('  firewall (iptables-restore)', parts.firewall);
  } finally {
    await cleanUp(networker);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
