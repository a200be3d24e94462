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
