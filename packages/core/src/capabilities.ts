/**
 * BackendCapabilities say what a composed backend really does on this host, so that a test
 * (the contract suite) or a tool skips what the backend cannot do instead of being told by
 * hand. Each backend's ContainerModule binds them as TOKENS.Capabilities.
 */
export interface BackendCapabilities {
  /** enforcesLimits: memory (OOM kill + event), pid max and rlimits really bite. */
  enforcesLimits: boolean;
  /** enforcesDiskLimits: writes beyond disk byteHard fail in the container (btrfs qgroups on a real backend). */
  enforcesDiskLimits: boolean;
  /** realNetwork: containers have working interfaces; NetIn forwards real traffic. */
  realNetwork: boolean;
  /** isolation: own pid namespace with an init as pid 1, own hostname (the handle). */
  isolation: boolean;
  /** survivesRestart: containers and processes outlive arbord's restart. */
  survivesRestart: boolean;
  /** runsImagePrograms: a process runs the image's own programs (its shell, busybox); the fake runs probes only. */
  runsImagePrograms: boolean;
  /** userNamespaces: an unprivileged container's root is an unprivileged user of the host (a user namespace of its own). */
  userNamespaces: boolean;
}
