import { ArborError, InvalidArgumentError, ResourceExhaustedError, formatIPv4, parseCidr, parseIPv4 } from '@arbor/core';

/** SubnetAllocation is where one container sits, like 10.254.0.2 behind gateway 10.254.0.1 in 10.254.0.0/30. */
export interface SubnetAllocation {
  containerIp: string;
  /** hostIp is the gateway: the subnet's first usable address (network + 1). */
  hostIp: string;
  /** subnet is the network in CIDR form, like '10.254.0.0/30'. */
  subnet: string;
  prefixLength: number;
}

export interface SubnetPoolOptions {
  /** pool is the CIDR that '' requests take /30s from, like '10.254.0.0/22'. */
  pool?: string;
}

export const DEFAULT_SUBNET_POOL = '10.254.0.0/22';

interface Subnet {
  network: number;
  prefixLength: number;
  broadcast: number;
  /** addresses maps each taken container address to its handle. */
  addresses: Map<number, string>;
}

interface Held {
  subnet: Subnet;
  address: number;
}

/** DYNAMIC_PREFIX: a container that asks for nothing gets a /30 of its own. */
const DYNAMIC_PREFIX = 30;

/**
 * SubnetPool hands out container addresses, as Garden does: '' takes the next free /30 from
 * the pool (gateway network+1, container network+2); a subnet like '10.254.1.0/24' is shared
 * by every container that asks for it (gateway network+1, each container the next free
 * address); an address with host bits like '10.254.0.10/30' asks for exactly that address.
 * Subnets outside the pool are fine as long as they do not overlap a subnet of another size.
 * Pure bookkeeping: no I/O.
 */
export class SubnetPool {
  private readonly pool: { network: number; broadcast: number; prefixLength: number };
  private readonly subnets = new Map<string, Subnet>();
  private readonly held = new Map<string, Held>();
  // next is where the search for a free /30 starts: just past the last one handed out, so a
  // subnet just freed is reused last (its kernel links may still be going away).
  private next = 0;

  constructor(options: SubnetPoolOptions = {}) {
    const text = options.pool ?? DEFAULT_SUBNET_POOL;
    const pool = parseCidr(text, 'networkPool');
    if (pool.prefixLength > DYNAMIC_PREFIX) {
      throw new InvalidArgumentError('networkPool', `'${text}' holds no /30: use a /30 or wider pool`);
    }
    this.pool = pool;
  }

  /**
   * size is how many /30s the pool hands out, one container each: 2^(30 - prefix), like 256
   * for 10.254.0.0/22 and 1024 for 10.254.0.0/20. Containers asking for their own subnet
   * outside the pool do not count against it.
   */
  get size(): number {
    return 2 ** (DYNAMIC_PREFIX - this.pool.prefixLength);
  }

  /**
   * allocate gives handle an address for request ('' | subnet | exact address).
   * @throws InvalidArgumentError('network') for a malformed request, the subnet's network,
   *   gateway or broadcast address, or a subnet overlapping one of another size
   * @throws ArborError alreadyExists when the exact address is taken
   * @throws ResourceExhaustedError('ips') when the pool or the shared subnet is full
   */
  allocate(handle: string, request: string): SubnetAllocation {
    if (this.held.has(handle)) {
      throw new ArborError('alreadyExists', `subnet-pool: '${handle}' already holds ${this.describe(handle)}`);
    }
    if (request === '') return this.allocateFromPool(handle);
    const cidr = parseCidr(request, 'network');
    if (cidr.prefixLength > DYNAMIC_PREFIX) {
      throw new InvalidArgumentError('network', `'${request}' leaves no room for a gateway and a container: use /30 or wider`);
    }
    const subnet = this.subnetFor(cidr.network, cidr.prefixLength, request);
    let address: number;
    if (cidr.address === cidr.network) {
      address = this.nextFree(subnet, request);
    } else {
      this.checkUsable(subnet, cidr.address, request);
      address = cidr.address;
    }
    return this.take(handle, subnet, address);
  }

  /**
   * reserve takes an allocation made before a restart back into the books.
   * @throws the same errors as allocate when it conflicts with what is held
   */
  reserve(handle: string, allocation: SubnetAllocation): void {
    if (this.held.has(handle)) {
      throw new ArborError('alreadyExists', `subnet-pool: '${handle}' already holds ${this.describe(handle)}`);
    }
    const cidr = parseCidr(allocation.subnet, 'network');
    const address = parseIPv4(allocation.containerIp, 'network');
    if (cidr.prefixLength !== allocation.prefixLength || cidr.network !== cidr.address) {
      throw new InvalidArgumentError('network', `'${allocation.subnet}' is not a subnet with prefix length ${allocation.prefixLength}`);
    }
    const subnet = this.subnetFor(cidr.network, cidr.prefixLength, allocation.subnet);
    this.checkUsable(subnet, address, `${allocation.containerIp}/${allocation.prefixLength}`);
    this.take(handle, subnet, address);
  }

  /** release frees what handle holds; releasing nothing is fine. */
  release(handle: string): void {
    const held = this.held.get(handle);
    if (!held) return;
    this.held.delete(handle);
    held.subnet.addresses.delete(held.address);
    if (held.subnet.addresses.size === 0) this.subnets.delete(key(held.subnet.network, held.subnet.prefixLength));
  }

  /** allocation returns what handle holds, or undefined. */
  allocation(handle: string): SubnetAllocation | undefined {
    const held = this.held.get(handle);
    return held && toAllocation(held.subnet, held.address);
  }

  private allocateFromPool(handle: string): SubnetAllocation {
    const size = 2 ** (32 - DYNAMIC_PREFIX);
    const count = Math.floor((this.pool.broadcast - this.pool.network + 1) / size);
    for (let i = 0; i < count; i++) {
      const slot = (this.next + i) % count;
      const network = this.pool.network + slot * size;
      if (this.overlapping(network, network + size - 1).length > 0) continue;
      this.next = (slot + 1) % count;
      const subnet = this.subnetFor(network, DYNAMIC_PREFIX, '');
      return this.take(handle, subnet, network + 2);
    }
    const pool = `${formatIPv4(this.pool.network)}/${this.pool.prefixLength}`;
    throw new ResourceExhaustedError('ips', `no free /30 left in the network pool ${pool}: destroy a container or configure a wider pool`);
  }

  /** subnetFor returns the held subnet with this network and size, or a new (not yet stored) one. */
  private subnetFor(network: number, prefixLength: number, request: string): Subnet {
    const existing = this.subnets.get(key(network, prefixLength));
    if (existing) return existing;
    const broadcast = network + 2 ** (32 - prefixLength) - 1;
    const clash = this.overlapping(network, broadcast)[0];
    if (clash) {
      const theirs = `${formatIPv4(clash.network)}/${clash.prefixLength}`;
      throw new InvalidArgumentError(
        'network',
        `'${request}' overlaps ${theirs}, which is in use with a different size: ask for ${theirs} itself or a subnet that does not overlap it`,
      );
    }
    return { network, prefixLength, broadcast, addresses: new Map() };
  }

  private overlapping(network: number, broadcast: number): Subnet[] {
    return [...this.subnets.values()].filter((s) => s.network <= broadcast && network <= s.broadcast);
  }

  private checkUsable(subnet: Subnet, address: number, request: string): void {
    const where = `${formatIPv4(subnet.network)}/${subnet.prefixLength}`;
    const first = formatIPv4(subnet.network + 2);
    const last = formatIPv4(subnet.broadcast - 1);
    const range = first === last ? `only ${first} is free for containers` : `ask for an address from ${first} to ${last}`;
    if (address === subnet.network + 1) {
      throw new InvalidArgumentError('network', `'${request}' is the gateway of ${where}: ${range}`);
    }
    if (address === subnet.broadcast) {
      throw new InvalidArgumentError('network', `'${request}' is the broadcast address of ${where}: ${range}`);
    }
    if (address === subnet.network) {
      throw new InvalidArgumentError('network', `'${request}' is the network address of ${where}: ${range}`);
    }
    const owner = subnet.addresses.get(address);
    if (owner !== undefined) {
      throw new ArborError(
        'alreadyExists',
        `network: ${formatIPv4(address)} is already taken by container '${owner}': ask for another address or for the subnet ${where}`,
      );
    }
  }

  private nextFree(subnet: Subnet, request: string): number {
    for (let a = subnet.network + 2; a < subnet.broadcast; a++) {
      if (!subnet.addresses.has(a)) return a;
    }
    throw new ResourceExhaustedError('ips', `network: the subnet '${request}' has no free address left`);
  }

  private take(handle: string, subnet: Subnet, address: number): SubnetAllocation {
    subnet.addresses.set(address, handle);
    this.subnets.set(key(subnet.network, subnet.prefixLength), subnet);
    this.held.set(handle, { subnet, address });
    return toAllocation(subnet, address);
  }

  private describe(handle: string): string {
    const a = this.allocation(handle);
    return a ? `${a.containerIp} in ${a.subnet}` : 'nothing';
  }
}

function key(network: number, prefixLength: number): string {
  return `${network}/${prefixLength}`;
}

function toAllocation(subnet: Subnet, address: number): SubnetAllocation {
  return {
    containerIp: formatIPv4(address),
    hostIp: formatIPv4(subnet.network + 1),
    subnet: `${formatIPv4(subnet.network)}/${subnet.prefixLength}`,
    prefixLength: subnet.prefixLength,
  };
}
