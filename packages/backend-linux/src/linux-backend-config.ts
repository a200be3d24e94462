import type { FileDepotConfig } from '@arbor/depot';
import type { HostHelpersConfig, UsernsConfig } from '@arbor/host';
import type { OverlayVolumizerConfig } from '@arbor/images';
import type { LinuxNetworkerConfig } from '@arbor/network';

/**
 * HostContainerizerConfig is the part of TOKENS.BackendConfig (the server's ArborConfig) the
 * containerizer of a real backend reads, besides where its helpers are (HostHelpersConfig).
 */
export interface HostContainerizerConfig extends HostHelpersConfig {
  /** stateDir is like /var/lib/arbor. */
  stateDir: string;
  /** maxContainers caps the containers; 0 or absent means the LinuxNetworker's pool decides (256 for the default /22). */
  maxContainers?: number;
  /**
   * tag names this arbord's links, chains and cgroups apart from another's on the host, like
   * 'x' (links 'arbx...', cgroup 'arbor-x'); '' or absent keeps the untagged names.
   */
  tag?: string;
  /** stopTimeoutMs is how long Stop waits after TERM before KILL; default 10 s. */
  stopTimeoutMs?: number;
  /** cgroupRoot is like /sys/fs/cgroup. */
  cgroupRoot?: string;
  /** userns runs each unprivileged container in a user namespace of its own range of host ids (@arbor/host's DEFAULT_USERNS fills what is left out: on); enabled false: host root. */
  userns?: Partial<UsernsConfig>;
}

/**
 * LinuxBackendConfig is what the linux backend's modules read from TOKENS.BackendConfig:
 * the containerizer's part and those of the shared ports (FileDepot, OverlayVolumizer,
 * LinuxNetworker); the server's ArborConfig is one.
 */
export interface LinuxBackendConfig extends HostContainerizerConfig, FileDepotConfig, OverlayVolumizerConfig, LinuxNetworkerConfig {
  /** defaultGraceTimeMs and defaultPidLimit are the Gardener's (GardenerConfig); absent means 0 (none). */
  defaultGraceTimeMs?: number;
  defaultPidLimit?: number;
}
