// @arbor/core: the contract every other package builds on. No gRPC, no Linux here.
export type { Backend, Client, Container, ImagePullProgress, Process, PulledImageInfo, PullPhase } from './client';
export { PROGRESS_INTERVAL_MS, ProgressThrottle, pullImage } from './image-pull';
export { RESOURCE_LIMIT_NAMES } from './types';
export type {
  ArborEvent,
  ArborEventKind,
  BandwidthLimits,
  BindMount,
  BulkResult,
  Capacity,
  ContainerInfo,
  ContainerMetrics,
  ContainerSpec,
  ContainerState,
  CpuLimits,
  CpuStat,
  DiskLimits,
  DiskStat,
  EventFilter,
  IcmpControl,
  ImageRef,
  IpRange,
  Limits,
  MemoryLimits,
  MemoryStat,
  NetOutProtocol,
  NetOutRule,
  NetworkStat,
  PidLimits,
  PidStat,
  PortMapping,
  PortRange,
  ProcessIO,
  ProcessSpec,
  Properties,
  ResourceLimitName,
  ResourceLimits,
  Signal,
  StreamInSpec,
  StreamOutSpec,
  TtySpec,
  WindowSize,
} from './types';
export type {
  Clock,
  ContainerPhase,
  ContainerRecord,
  Containerizer,
  ContainerizerInfo,
  ContainerizerMetrics,
  CreatedContainer,
  DesiredContainer,
  Depot,
  GardenerConfig,
  GardenerObserver,
  HandleGenerator,
  NetworkConfig,
  NetworkInfo,
  Networker,
  Rootfs,
  UserIds,
  RunRequest,
  Timer,
  Volumizer,
} from './ports';
export {
  ArborError,
  ContainerNotFoundError,
  ContainerStoppedError,
  ExecutableNotFoundError,
  HandleAlreadyExistsError,
  HostPreconditionError,
  InvalidArgumentError,
  InvalidTarError,
  MAX_ECHO,
  PermissionDeniedError,
  PortInUseError,
  ProcessAlreadyExistsError,
  ProcessNotFoundError,
  PropertyNotFoundError,
  ResourceExhaustedError,
  ServiceUnavailableError,
  UnrecoverableError,
  fromWireError,
  toWireError,
} from './errors';
export type { ArborErrorKind, ErrorFields, WireError } from './errors';
export { TOKENS } from './tokens';
export type { BackendCapabilities } from './capabilities';
export { backendCapabilities, composeBackend } from './compose-backend';
export type { BackendDeps, BackendModules, ComposedBackend, GardenerSettings } from './compose-backend';
export type { Logger } from './logger';
export type { CallContext } from './call-context';
export { silentLogger } from './logger';
export { Gardener } from './gardener';
export type { ContainerSample, GardenerPorts } from './gardener';
export { GraceReaper } from './grace-reaper';
export { DEFAULT_EVENT_QUEUE_LIMIT, GardenerEvents, OOM_INFO_EVENT } from './events';
export { SystemClock, UuidHandleGenerator } from './system';
export { arborVersion } from './version';
export { ROOT_PATH, USER_PATH, mergeEnv, processEnvironment } from './environment';
export type { ProcessUser } from './environment';
export { formatIPv4, parseCidr, parseIPv4 } from './ipv4';
export type { Cidr } from './ipv4';
export {
  MAX_ID,
  quoteInput,
  validateAbsolutePath,
  validateBandwidthLimits,
  validateContainerSpec,
  validateCpuLimits,
  validateDiskLimits,
  validateEnv,
  validateHandle,
  validateImageConfig,
  validateLimits,
  validateMemoryLimits,
  MIN_DISK_LIMIT_BYTES,
  MIN_MEMORY_LIMIT_BYTES,
  validateNetOutRule,
  validateNetworkRequest,
  validatePidLimits,
  validatePortMapping,
  validateProcessId,
  validateProcessSpec,
  validateStreamSpec,
  validateText,
  validateUser,
} from './validation';
export type { ImageConfigFields } from './validation';
