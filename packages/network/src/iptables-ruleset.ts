import { parseCidr, type NetOutRule, type PortMapping } from '@arbor/core';
import type { NetworkNames } from './network-names';

/** FirewallContainer is what the firewall needs to know of one container. */
export interface FirewallContainer {
  containerIp: string;
  netOut: readonly NetOutRule[];
  netIn: readonly PortMapping[];
}

/** TableLines are iptables-restore lines per table, without the '*table' and 'COMMIT' lines. */
export interface TableLines {
  filter: string[];
  nat: string[];
}

/** IptablesSnapshot is what iptables-save shows: chains and '-A' rules per table. */
export interface IptablesSnapshot {
  chains: { filter: Set<string>; nat: Set<string> };
  rules: { filter: Set<string>; nat: Set<string> };
}

/** LINK_LOCAL holds cloud metadata services (169.254.169.254): always denied unless a rule allows. */
const LINK_LOCAL = '169.254.0.0/16';

/**
 * LOOPBACK is never reachable from a container, whatever its rules. The gateways have
 * route_localnet on (NetIn from 127.0.0.1 needs it: its replies come back to 127.0.0.1), so
 * without this a container routing 127.0.0.1 out of eth0 would reach the host's loopback
 * services (like 127.0.0.1:5432) through a broad NetOut rule.
 */
const LOOPBACK = '127.0.0.0/8';

export function emptyLines(): TableLines {
  return { filter: [], nat: [] };
}

/**
 * IptablesRuleset writes the iptables-restore text of the LinuxNetworker's firewall. Layout,
 * with prefix 'arb':
 *   filter FORWARD -> ARB-FORWARD: replies pass; whatever a container sends to 127.0.0.0/8
 *     (before NetIn DNAT) is rejected; bridged traffic inside one subnet passes; DNATed NetIn
 *     traffic passes; traffic from a container -> ARB-CONTAINERS -> the container's chain
 *     arb-o-<ip>, entered only from its own host veth with its own address (a container
 *     forging another's address gets no rules): its NetOut rules (ACCEPT), then ARB-DEFAULT.
 *   filter INPUT -> ARB-INPUT: replies pass; 127.0.0.0/8 is rejected; then the same container
 *     chains, so the host is reached only by rule.
 *   ARB-DEFAULT rejects the host itself, 169.254.0.0/16 and the deny networks, accepts the rest.
 *   nat PREROUTING and OUTPUT -> ARB-NETIN (local destinations) -> arb-i-<ip>: NetIn DNAT.
 *   nat POSTROUTING -> ARB-POSTROUTING: MASQUERADE for egress and for 127.0.0.1 NetIn.
 * Gateways are bridges ('arbb+') for shared subnets and host veths ('arbv+') for /30s.
 * Pure: it only makes text.
 */
export class IptablesRuleset {
  private readonly denyNetworks: string[];

  constructor(
    private readonly names: NetworkNames,
    denyNetworks: readonly string[],
  ) {
    this.denyNetworks = denyNetworks.map((text, i) => {
      const cidr = parseCidr(text, `denyNetworks[${i}]`);
      return `${text.split('/')[0]}/${cidr.prefixLength}`;
    });
  }

  /** sharedChains declares (creating or flushing) and fills the shared chains, without container jumps. */
  sharedChains(): TableLines {
    const n = this.names;
    const bridges = n.bridgeWildcard();
    const gateways = n.gatewayWildcards();
    const forward = n.sharedChain('FORWARD');
    const input = n.sharedChain('INPUT');
    const containers = n.sharedChain('CONTAINERS');
    const deflt = n.sharedChain('DEFAULT');
    const prerouting = n.sharedChain('PREROUTING');
    const output = n.sharedChain('OUTPUT');
    const netin = n.sharedChain('NETIN');
    const postrouting = n.sharedChain('POSTROUTING');
    const reject = '-j REJECT --reject-with icmp-port-unreachable';
    const each = (make: (gw: string) => string): string[] => gateways.map(make);
    return {
      filter: [
        ...[forward, input, containers, deflt].map(declare),
        ...each((gw) => `-A ${forward} -o ${gw} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`),
        ...each((gw) => `-A ${forward} -i ${gw} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`),
        // ctorigdst: the destination the container chose, before NetIn DNAT rewrote it.
        ...each((gw) => `-A ${forward} -i ${gw} -m conntrack --ctorigdst ${LOOPBACK} ${reject}`),
        `-A ${forward} -i ${bridges} -o ${bridges} -m physdev --physdev-is-bridged -j ACCEPT`,
        ...each((gw) => `-A ${forward} -o ${gw} -m conntrack --ctstate DNAT -j ACCEPT`),
        ...each((gw) => `-A ${forward} -i ${gw} -j ${containers}`),
        ...each((gw) => `-A ${forward} -i ${gw} ${reject}`),
        ...each((gw) => `-A ${input} -i ${gw} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`),
        // After the replies: those of NetIn from 127.0.0.1 are addressed to 127.0.0.1 here.
        ...each((gw) => `-A ${input} -d ${LOOPBACK} -i ${gw} ${reject}`),
        ...each((gw) => `-A ${input} -i ${gw} -j ${containers}`),
        ...each((gw) => `-A ${input} -i ${gw} ${reject}`),
        `-A ${deflt} -m addrtype --dst-type LOCAL ${reject}`,
        ...[LINK_LOCAL, ...this.denyNetworks].map((cidr) => `-A ${deflt} -d ${cidr} ${reject}`),
        `-A ${deflt} -j ACCEPT`,
      ],
      nat: [
        ...[prerouting, output, netin, postrouting].map(declare),
        `-A ${prerouting} -m addrtype --dst-type LOCAL -j ${netin}`,
        `-A ${output} -m addrtype --dst-type LOCAL -j ${netin}`,
        // NetIn from 127.0.0.1 leaves with the gateway's address, so the container can answer.
        ...each((gw) => `-A ${postrouting} -s 127.0.0.0/8 -o ${gw} -j MASQUERADE`),
        // Traffic between the host and containers keeps its addresses; the per-container
        // MASQUERADE lines appended below these catch only egress.
        ...each((gw) => `-A ${postrouting} -o ${gw} -j RETURN`),
      ],
    };
  }

  /** sharedChainNames lists the shared chains per table. */
  sharedChainNames(): { filter: string[]; nat: string[] } {
    const n = this.names;
    return {
      filter: [n.sharedChain('FORWARD'), n.sharedChain('INPUT'), n.sharedChain('CONTAINERS'), n.sharedChain('DEFAULT')],
      nat: [n.sharedChain('PREROUTING'), n.sharedChain('OUTPUT'), n.sharedChain('NETIN'), n.sharedChain('POSTROUTING')],
    };
  }

  /** builtinJumps are the rules hooking the shared chains into the built-in chains, as '-A' lines. */
  builtinJumps(): TableLines {
    const n = this.names;
    return {
      filter: [`-A FORWARD -j ${n.sharedChain('FORWARD')}`, `-A INPUT -j ${n.sharedChain('INPUT')}`],
      nat: [`-A PREROUTING -j ${n.sharedChain('PREROUTING')}`, `-A OUTPUT -j ${n.sharedChain('OUTPUT')}`, `-A POSTROUTING -j ${n.sharedChain('POSTROUTING')}`],
    };
  }

  /** containerChains declares (creating or flushing) and fills a container's two chains. */
  containerChains(c: FirewallContainer): TableLines {
    const out = this.names.outChain(c.containerIp);
    const into = this.names.inChain(c.containerIp);
    return {
      filter: [declare(out), ...netOutLines(out, c.netOut, `${out} `), `-A ${out} -j ${this.names.sharedChain('DEFAULT')}`],
      nat: [
        declare(into),
        ...c.netIn.map((m) => `-A ${into} -p tcp -m tcp --dport ${m.hostPort} -j DNAT --to-destination ${c.containerIp}:${m.containerPort}`),
      ],
    };
  }

  /**
   * containerJumps are the rules leading into a container's chains, as '-A' lines. Its NetOut
   * chain is entered only by what comes from its host veth: as the routing link for a /30,
   * as the bridge port ('-m physdev', which needs br_netfilter) for a shared subnet.
   */
  containerJumps(containerIp: string, bridged: boolean): TableLines {
    const n = this.names;
    const veth = n.hostVeth(containerIp);
    const from = bridged ? `-m physdev --physdev-in ${veth}` : `-i ${veth}`;
    return {
      // In iptables-save's order, so removeFirewall finds it in a snapshot.
      filter: [`-A ${n.sharedChain('CONTAINERS')} -s ${containerIp}/32 ${from} -j ${n.outChain(containerIp)}`],
      nat: [`-A ${n.sharedChain('NETIN')} -j ${n.inChain(containerIp)}`, `-A ${n.sharedChain('POSTROUTING')} -s ${containerIp}/32 -j MASQUERADE`],
    };
  }

  /** removeChains flushes and deletes chains; their jumps must be gone in the same change set. */
  removeChains(chains: { filter: readonly string[]; nat: readonly string[] }): TableLines {
    return {
      filter: [...chains.filter.map(declare), ...chains.filter.map((c) => `-X ${c}`)],
      nat: [...chains.nat.map(declare), ...chains.nat.map((c) => `-X ${c}`)],
    };
  }
}

function declare(chain: string): string {
  return `:${chain} - [0:0]`;
}

/** asDeletes turns '-A chain spec' lines into '-D chain spec' lines. */
export function asDeletes(lines: readonly string[]): string[] {
  return lines.map((l) => l.replace(/^-A /, '-D '));
}

/** asInserts turns '-A chain spec' lines into '-I chain 1 spec' lines. */
export function asInserts(lines: readonly string[]): string[] {
  return lines.map((l) => l.replace(/^-A (\S+) /, '-I $1 1 '));
}

/** mergeLines appends each table's lines of every part, in order. */
export function mergeLines(...parts: TableLines[]): TableLines {
  return { filter: parts.flatMap((p) => p.filter), nat: parts.flatMap((p) => p.nat) };
}

/**
 * renderRestore makes iptables-restore input; tables without lines are left out. Within a
 * table, chain declarations come first (a jump needs its target to exist), then deletions,
 * then additions, and chain removals last (a chain goes only once nothing jumps to it).
 */
export function renderRestore(lines: TableLines): string {
  const rank = (l: string): number => (l.startsWith(':') ? 0 : l.startsWith('-D ') ? 1 : l.startsWith('-X ') ? 3 : 2);
  const ordered = (table: string[]): string =>
    table
      .map((l, i) => ({ l, i }))
      .sort((a, b) => rank(a.l) - rank(b.l) || a.i - b.i)
      .map((x) => x.l)
      .join('\n');
  let text = '';
  if (lines.filter.length) text += `*filter\n${ordered(lines.filter)}\nCOMMIT\n`;
  if (lines.nat.length) text += `*nat\n${ordered(lines.nat)}\nCOMMIT\n`;
  return text;
}

/** parseSave reads the filter and nat tables out of iptables-save output. */
export function parseSave(text: string): IptablesSnapshot {
  const snapshot: IptablesSnapshot = {
    chains: { filter: new Set(), nat: new Set() },
    rules: { filter: new Set(), nat: new Set() },
  };
  let table: 'filter' | 'nat' | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      const name = line.slice(1).trim();
      table = name === 'filter' || name === 'nat' ? name : undefined;
    } else if (!table) {
      continue;
    } else if (line.startsWith(':')) {
      snapshot.chains[table].add(line.slice(1).split(' ')[0] ?? '');
    } else if (line.startsWith('-A ')) {
      snapshot.rules[table].add(line.trim());
    }
  }
  return snapshot;
}

/**
 * netOutLines turns NetOut rules into ACCEPT rules of chain; a rule with several networks or
 * port ranges becomes one line per combination. With log, a LOG line before each ACCEPT logs
 * new connections with logPrefix.
 */
export function netOutLines(chain: string, rules: readonly NetOutRule[], logPrefix: string): string[] {
  const lines: string[] = [];
  for (const rule of rules) {
    const hasPorts = (rule.protocol === 'tcp' || rule.protocol === 'udp') && (rule.ports?.length ?? 0) > 0;
    const hasIcmpType = rule.protocol === 'icmp' && rule.icmps !== undefined;
    // '-m <protocol>' loads --dport and --icmp-type, and insists on them once loaded.
    const protocol = rule.protocol === 'all' ? [] : [`-p ${rule.protocol}${hasPorts || hasIcmpType ? ` -m ${rule.protocol}` : ''}`];
    const ports = hasPorts ? (rule.ports ?? []).map((p) => `--dport ${p.start === p.end ? p.start : `${p.start}:${p.end}`}`) : [''];
    const icmp = rule.protocol === 'icmp' && rule.icmps ? [`--icmp-type ${rule.icmps.type}${rule.icmps.code === undefined ? '' : `/${rule.icmps.code}`}`] : [];
    const networks = rule.networks?.length
      ? rule.networks.map((r) => (r.start === r.end ? `-d ${r.start}/32` : `-m iprange --dst-range ${r.start}-${r.end}`))
      : [''];
    for (const port of ports) {
      for (const network of networks) {
        const match = [...protocol, port, ...icmp, network].filter((s) => s !== '').join(' ');
        const spec = match ? `${match} ` : '';
        if (rule.log) {
          lines.push(`-A ${chain} ${spec}-m conntrack --ctstate NEW,UNTRACKED,INVALID -j LOG --log-prefix "${logPrefix}"`);
        }
        lines.push(`-A ${chain} ${spec}-j ACCEPT`);
      }
    }
  }
  return lines;
}
