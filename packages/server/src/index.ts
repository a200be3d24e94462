// @arbor/server: the arbord daemon. startArbord for tests and benchmarks; bin arbord (main.ts).
export { startArbord, GARDEN_SERVICE_NAME } from './start-arbord';
export type { RunningArbord, StartOptions } from './start-arbord';
export { ConfigError, DEFAULT_CONFIG, LOG_LEVELS, mergeConfig, parseListen, validateConfig } from './arbor-config';
export type { ArborConfig, ArborConfigInput, Listener, LogLevel, RuncSection, TlsConfig, UsernsSection } from './arbor-config';
export { CONFIG_FIELDS, DEFAULT_CONFIG_PATH, configFromEnv, configFromFlags, configFromYaml, loadConfig } from './load-config';
export type { ConfigField, ConfigSources } from './load-config';
export { backends } from './backends';
export type { BackendRegistry } from './backends';
export { composeArbordBackend } from './composition-root';
export { JsonLogger } from './json-logger';
export type { JsonLoggerOptions, LogSink } from './json-logger';
export { ERROR_METADATA_KEY, toGrpcStatus } from './to-grpc-status';
export { ARBORD_THREAD_POOL_SIZE, sizeThreadPool } from './thread-pool';
