// DI tokens: each backend package's ContainerModule binds the ports; the server binds the rest.
export const TOKENS = {
  Backend: Symbol.for('@arbor/core/Backend'),
  Containerizer: Symbol.for('@arbor/core/Containerizer'),
  Networker: Symbol.for('@arbor/core/Networker'),
  Volumizer: Symbol.for('@arbor/core/Volumizer'),
  Depot: Symbol.for('@arbor/core/Depot'),
  HandleGenerator: Symbol.for('@arbor/core/HandleGenerator'),
  Clock: Symbol.for('@arbor/core/Clock'),
  GardenerConfig: Symbol.for('@arbor/core/GardenerConfig'),
  Logger: Symbol.for('@arbor/core/Logger'),
  /** Capabilities are the BackendCapabilities a backend's module binds: what it really does on this host. */
  Capabilities: Symbol.for('@arbor/core/Capabilities'),
  /** BackendConfig is the server's config object, for backends that read their own section. */
  BackendConfig: Symbol.for('@arbor/core/BackendConfig'),
} as const;
