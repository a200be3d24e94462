import { ContainerModule } from 'inversify';
import { ArborError, TOKENS } from '@arbor/core';
import type { BandwidthLimits, ContainerRecord, NetOutRule, NetworkConfig, NetworkInfo, NetworkStat, Networker, PortMapping } from '@arbor/core';

/**
 * LoopbackOnlyNetworker gives containers no network beyond the loopback arbor-create brings
 * up, and no address; NetIn, NetOut and bandwidth limits fail with a clear error. For tests
 * that must not change the host network: they rebind TOKENS.Networker to it (composeBackend's
 * overrides); linuxBackendModules (arbord) bind @arbor/network's LinuxNetworker.
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
  return new ArborError('failedPrecondition', `${what}: this backend was composed without a network (LoopbackOnlyNetworker bound as TOKENS.Networker)`);
}

/**
 * loopbackOnlyNetworkerModule rebinds TOKENS.Networker to a LoopbackOnlyNetworker: loaded
 * after a backend's modules (composeBackend's overrides), for tests that must not touch the
 * host network, where a LinuxNetworker would at start sweep other arbords' links and chains.
 */
export const loopbackOnlyNetworkerModule = new ContainerModule(({ rebindSync }) => {
  rebindSync<Networker>(TOKENS.Networker).toConstantValue(new LoopbackOnlyNetworker());
});
