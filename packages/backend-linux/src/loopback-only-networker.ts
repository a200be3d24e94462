import { ArborError } from '@arbor/core';
import type { BandwidthLimits, ContainerRecord, NetOutRule, NetworkConfig, NetworkInfo, NetworkStat, Networker, PortMapping } from '@arbor/core';

/**
 * LoopbackOnlyNetworker gives containers no network beyond the loopback arbor-create brings
 * up, and no address; NetIn, NetOut and bandwidth limits fail with a clear error. It is
 * createLinuxBackend's default, for in-process use that needs no host network changes;
 * linuxBackendModule (arbord) uses @arbor/network's LinuxNetworker.
 */
export class LoopbackOnlyNetworker implements Networker {
  async setup(_handle: string, _config: NetworkConfig): Promise<NetworkInfo> {
    return { hostIp: '', containerIp: '', externalIp: '', subnet: '' };
  }
  async netIn(_handle: string, _hostPort: number, _containerPort: number): Promise<PortMapping> {
    throw unwired('netIn');
  }
  async netOut(_handle: string, _rules: NetOutRule[]): Promise<void> {
    throw unwired('netOut');
  }
  async limitBandwidth(_handle: string, _limits: BandwidthLimits): Promise<void> {
    throw unwired('bandwidth limits');
  }
  async metrics(_handle: string): Promise<NetworkStat> {
    return { rxBytes: 0, txBytes: 0 };
  }
  async destroy(_handle: string): Promise<void> {}
  async restore(_records: readonly ContainerRecord[]): Promise<void> {}
}

function unwired(what: string): ArborError {
  return new ArborError('failedPrecondition', `${what}: this linux backend was made without a network (LoopbackOnlyNetworker): pass a networker to createLinuxBackend`);
}
