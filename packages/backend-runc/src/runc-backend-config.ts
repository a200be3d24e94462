import type { FileDepotConfig } from '@arbor/depot';
import type { HostHelpersConfig, UsernsConfig } from '@arbor/host';
import type { OverlayVolumizerConfig } from '@arbor/images';
import type { LinuxNetworkerConfig } from '@arbor/network';

/** RuncConfig is the runc backend's own section of the config: `runc: { binary }` in arbord's YAML. */
export interface RuncConfig {
  /** binary is the runc to run: a path, or a name looked up in PATH; default 'runc'. */
  binary?: string;
}

/**
 * RuncBackendConfig is what the runc backend's modules read from TOKENS.BackendConfig: its
 * runc section, its containerizer's part, and those of the shared ports (FileDepot,
 * OverlayVolumizer, LinuxNetworker); the server's ArborConfig is one.
 */
export interface RuncBackendConfig extends HostHelpersConfig, FileDepotConfig, OverlayVolumizerConfig, LinuxNetworkerConfig {
  runc?: RuncConfig;
  /** stateDir is like /var/lib/arbor; runc keeps its state under <stateDir>/runc. */
  stateDir: string;
  /** maxContainers caps the containers; 0 or absent means the LinuxNetworker's pool decides. */
  maxContainers?: number;
  /** tag names this arbord's cgroups apart from another's, like 'x' (cgroup 'arbor-runc-x'). */
  tag?: string;
  /** stopTimeoutMs is how long Stop waits after TERM before KILL; default 10 s. */
  stopTimeoutMs?: number;
  /** cgroupRoot is like /sys/fs/cgroup. */
  cgroupRoot?: string;
  /** userns runs each unprivileged container in a user namespace of its own range of host ids (@arbor/host's DEFAULT_USERNS fills what is left out: on); enabled false: host root. */
  userns?: Partial<UsernsConfig>;
  /** defaultGraceTimeMs and defaultPidLimit are the Gardener's (GardenerConfig); absent means 0 (none). */
  defaultGraceTimeMs?: number;
  defaultPidLimit?: number;
}
