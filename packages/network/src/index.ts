// @arbor/network: container networking. For now the pure allocators (addresses, host ports).
export { DEFAULT_SUBNET_POOL, SubnetPool } from './subnet-pool';
export type { SubnetAllocation, SubnetPoolOptions } from './subnet-pool';
export { DEFAULT_PORT_POOL_SIZE, DEFAULT_PORT_POOL_START, PortPool } from './port-pool';
export type { PortPoolOptions } from './port-pool';

// The real networker (issue 4): links through the arbor-net helper, firewall through iptables-restore.
export { LinuxNetworker } from './linux-networker';
export type { LinuxNetworkConfig, LinuxNetworkerOptions } from './linux-networker';
export { writeContainerNetworkFiles } from './container-network-files';
export type { ContainerNetworkFiles } from './container-network-files';
export { detectExternalIp } from './external-ip';

// Several arbords on one host: names derived from a tag, and a registry of each one's pools.
export { NetworkNames, TAGS, prefixForTag } from './network-names';
export { DEFAULT_POOL_REGISTRY_DIR, PoolRegistry, processStartTime } from './pool-registry';
export type { PoolClaim, PoolEntry } from './pool-registry';
export { linuxNetworkerModule } from './linux-networker-module';
export type { LinuxNetworkerConfig } from './linux-networker-module';
