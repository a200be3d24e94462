import { InvalidArgumentError, formatIPv4, parseIPv4 } from '@arbor/core';

/** BridgeSubnet is the subnet a bridge serves, as numbers. */
export interface BridgeSubnet {
  network: number;
  prefixLength: number;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/**
 * TAGS are the tags a networker may have besides '' (the default): one lower-case letter or
 * digit but 'b', 'v', 'i' and 't'. The tag goes after 'arb' (tag 'x': prefix 'arbx'); the bridge
 * name takes 11 characters after the prefix and link names have at most 15, so the tag has one
 * character; b, v and i would make 'arb' plus the tag look like the default's bridge, veth and
 * ifb names ('arbb+' would match tag 'b''s links); 't' is @arbor/network's own tests' ('arbt'). Like
 * guardian's --tag.
 */
export const TAGS: readonly string[] = [...'acdefghjklmnopqrsuwxyz0123456789'];

/**
 * prefixForTag is the NetworkNames prefix of a tag: 'arb' for '' (today's names, so existing
 * hosts keep their links and chains), 'arb' plus the tag otherwise, like 'arbx'.
 * @throws InvalidArgumentError for a tag not '' nor in TAGS
 */
export function prefixForTag(tag: string): string {
  if (tag !== '' && !TAGS.includes(tag)) {
    throw new InvalidArgumentError('tag', `'${tag}' must be empty or one lower-case letter or digit but b, v, i and t, like 'x'`);
  }
  return `arb${tag}`;
}

/**
 * NetworkNames derives every kernel name the LinuxNetworker makes from a prefix and an
 * address, so that a restart can tell its links and chains from anyone else's and find which
 * container or subnet each belongs to. With prefix 'arb' and container 10.254.0.2 in
 * 10.254.0.0/30: bridge 'arbb0afe00001e' (made only for subnets wider than /30), host veth 'arbv0afe0002', ifb 'arbi0afe0002',
 * chains 'arb-o-0afe0002' (filter) and 'arb-i-0afe0002' (nat), shared chains 'ARB-FORWARD'...
 * Link names stay within the kernel's 15 characters, so the prefix has 2-4 characters. Two
 * networkers on one host need prefixes where neither is the other plus 'b', 'v' or 'i' ('arb'
 * and 'arbt' are fine; 'arb' and 'arbb' are not: 'arbb+' would match both's links).
 */
export class NetworkNames {
  readonly prefix: string;
  /** shared is the upper-case prefix of the shared chains, like 'ARB'. */
  readonly shared: string;

  constructor(prefix: string) {
    if (!/^[a-z][a-z0-9]{1,3}$/.test(prefix)) {
      throw new InvalidArgumentError('prefix', `'${prefix}' must be 2-4 lower-case letters or digits, starting with a letter, like 'arb'`);
    }
    this.prefix = prefix;
    this.shared = prefix.toUpperCase();
  }

  bridge(subnet: BridgeSubnet): string {
    return `${this.prefix}b${hex8(subnet.network)}${subnet.prefixLength.toString(16).padStart(2, '0')}`;
  }

  /** bridgeWildcard matches every bridge of this prefix in iptables, like 'arbb+'. */
  bridgeWildcard(): string {
    return `${this.prefix}b+`;
  }

  /** gatewayWildcards match every host link holding a container's gateway: bridges and unbridged host veths. */
  gatewayWildcards(): string[] {
    return [`${this.prefix}b+`, `${this.prefix}v+`];
  }

  hostVeth(containerIp: string): string {
    return `${this.prefix}v${hex8(parseIPv4(containerIp, 'containerIp'))}`;
  }

  ifb(containerIp: string): string {
    return `${this.prefix}i${hex8(parseIPv4(containerIp, 'containerIp'))}`;
  }

  /** outChain is the container's egress filter chain. */
  outChain(containerIp: string): string {
    return `${this.prefix}-o-${hex8(parseIPv4(containerIp, 'containerIp'))}`;
  }

  /** inChain is the container's NetIn (DNAT) chain in the nat table. */
  inChain(containerIp: string): string {
    return `${this.prefix}-i-${hex8(parseIPv4(containerIp, 'containerIp'))}`;
  }

  sharedChain(role: 'FORWARD' | 'INPUT' | 'CONTAINERS' | 'DEFAULT' | 'PREROUTING' | 'OUTPUT' | 'POSTROUTING' | 'NETIN'): string {
    return `${this.shared}-${role}`;
  }

  /** parseBridge returns the subnet of one of our bridge names, or undefined for any other name. */
  parseBridge(name: string): BridgeSubnet | undefined {
    const m = new RegExp(`^${this.prefix}b([0-9a-f]{8})([0-9a-f]{2})$`).exec(name);
    if (!m) return undefined;
    return { network: parseInt(m[1] ?? '', 16), prefixLength: parseInt(m[2] ?? '', 16) };
  }

  /** parseContainerLink returns the container address of one of our host veth or ifb names. */
  parseContainerLink(name: string): { kind: 'veth' | 'ifb'; containerIp: string } | undefined {
    const m = new RegExp(`^${this.prefix}([vi])([0-9a-f]{8})$`).exec(name);
    if (!m) return undefined;
    return { kind: m[1] === 'v' ? 'veth' : 'ifb', containerIp: formatIPv4(parseInt(m[2] ?? '', 16)) };
  }

  /** parseContainerChain returns the container address of one of our per-container chains. */
  parseContainerChain(name: string): string | undefined {
    const m = new RegExp(`^${this.prefix}-[oi]-([0-9a-f]{8})$`).exec(name);
    return m ? formatIPv4(parseInt(m[1] ?? '', 16)) : undefined;
  }
}
