import { Server } from '@grpc/grpc-js';
import { load as loadProto } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import type { Backend, Logger } from '@arbor/core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GardenHttpServer, listenGarden } from '@arbor/garden-http';
import type { GardenListener, GardenListenTarget } from '@arbor/garden-http';
import { GardenService, PROTO_PATH, PROTO_ROOT } from '@arbor/proto';
import { ConfigError, mergeConfig, parseGardenListen, parseListen, validateConfig } from './arbor-config';
import type { ArborConfig, ArborConfigInput } from './arbor-config';
import { backends as defaultBackends } from './backends';
import type { BackendRegistry } from './backends';
import { bindListener } from './bind-listener';
import { composeArbordBackend } from './composition-root';
import { createGardenService } from './garden-service';
import { JsonLogger } from './json-logger';
import { ArborMetrics } from './arbor-metrics';
import { startMetricsServer } from './metrics-server';
import type { MetricsServer } from './metrics-server';
import { logContainerCapacity } from './log-container-capacity';
import { withDirectBytesEncoding } from './bytes-response-encoding';
import { tolerantDefinition } from './undecodable-message';

/** GARDEN_SERVICE_NAME is the fully qualified gRPC service name, for health checks and reflection. */
export const GARDEN_SERVICE_NAME = 'arbor.v1.Garden';

export interface RunningArbord {
  /** address is what GrpcClient.connect takes, like 'unix:///run/arbor/arbord.sock' or '127.0.0.1:40123'. */
  address: string;
  /** gardenAddress is where Garden's HTTP protocol is served, like 'unix:///run/arbor/garden.sock'; '' when off. */
  gardenAddress: string;
  /** metricsAddress is where GET /metrics is served, like '127.0.0.1:9324'; '' when off (metricsListen ''). */
  metricsAddress: string;
  config: ArborConfig;
  /** backend is the Gardener the server serves, for in-process inspection. */
  backend: Backend;
  /** stop stops accepting calls, waits for running ones (or cuts them after shutdownTimeoutMs), stops the backend and removes the socket. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** backends replaces the registry, like { fake: () => myModule } in tests. */
  backends?: BackendRegistry;
  /** logger replaces the JSON logger on stdout. */
  logger?: Logger;
  /** shutdownTimeoutMs: how long stop() lets open calls finish before cutting them; default 5000. */
  shutdownTimeoutMs?: number;
}

/**
 * logInsecureListener says at every start when the API is open to anyone who reaches a TCP
 * port, so the choice is seen in the log and not only in a config file.
 */
function logInsecureListener(config: ArborConfig, address: string, logger: Logger): void {
  if (parseListen(config.listen).kind !== 'tcp') return;
  if (config.tls.cert === '') {
    logger.info('insecure-tcp-plaintext-allowed', { address, note: 'anyone who reaches this port can do what root can on this host' });
  } else if (config.tls.insecureAnonymousClients) {
    logger.info('insecure-tls-anonymous-clients-allowed', {
      address,
      note: 'clients need no certificate: anyone who reaches this port can do what root can on this host',
    });
  }
  if (config.tls.requireClientCert !== undefined) {
    logger.info('config-deprecated', { field: 'tls.requireClientCert', note: 'client certificates are always required on TCP: remove the key' });
  }
}

async function pem(path: string, field: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new ConfigError(field, `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * startGardenHttp serves Garden's HTTP protocol over the same backend when gardenListen is
 * set: on TCP with the TLS config gRPC uses (client certificates required unless
 * tls.insecureAnonymousClients; plaintext only with insecureTcp, validated before).
 */
async function startGardenHttp(config: ArborConfig, backend: Backend, logger: Logger): Promise<GardenListener | undefined> {
  const listener = parseGardenListen(config);
  if (!listener) return undefined;
  let target: GardenListenTarget = listener;
  const { tls } = config;
  if (listener.kind === 'tcp' && tls.cert !== '') {
    const [cert, key, ca] = await Promise.all([
      pem(tls.cert, 'tls.cert'),
      pem(tls.key, 'tls.key'),
      tls.ca === '' ? Promise.resolve(undefined) : pem(tls.ca, 'tls.ca'),
    ]);
    target = { ...listener, tls: { cert, key, ...(ca && { ca }), anonymousClients: tls.insecureAnonymousClients } };
  }
  const front = await listenGarden(new GardenHttpServer(backend, { logger }), target);
  logger.info('garden-http-started', { address: front.address });
  if (listener.kind === 'tcp' && tls.cert === '') {
    logger.info('insecure-tcp-plaintext-allowed', { address: front.address, note: 'anyone who reaches this port can do what root can on this host' });
  }
  return front;
}

function shutdown(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * startArbord validates the config (left-out fields take the defaults; no file or
 * environment is read here: see loadConfig), builds the backend, starts it and serves
 * arbor.v1.Garden with health checks and reflection.
 * @throws ConfigError naming the field at fault; whatever the backend throws when it cannot start
 */
export async function startArbord(input: ArborConfigInput = {}, options: StartOptions = {}): Promise<RunningArbord> {
  const config = mergeConfig(input);
  const registry = options.backends ?? defaultBackends;
  validateConfig(config, Object.keys(registry));
  const logger = options.logger ?? new JsonLogger({ level: config.logLevel });
  const metrics = config.metricsListen === '' ? undefined : new ArborMetrics({ layerStoreDir: join(config.stateDir, 'images'), logger });
  const { backend } = await composeArbordBackend(config, logger, registry, metrics?.observer);
  metrics?.watch(backend);
  await backend.start();

  // a 4 MiB HTTP/2 window (64 KiB by default) lets StreamIn's tar flow without a wait per message
  const server = new Server({ 'grpc-node.flow_control_window': 4 * 1024 * 1024 });
  const gardenDefinition = withDirectBytesEncoding(tolerantDefinition(GardenService));
  const gardenService = createGardenService(backend, logger);
  server.addService(gardenDefinition, metrics ? metrics.instrument(gardenDefinition, gardenService) : gardenService);
  const health = new HealthImplementation({ '': 'SERVING', [GARDEN_SERVICE_NAME]: 'SERVING' });
  health.addToServer(server);
  const reflected = await loadProto([PROTO_PATH, healthProtoPath], { includeDirs: [PROTO_ROOT] });
  new ReflectionService(reflected).addToServer(server);

  let listener;
  try {
    listener = await bindListener(server, config);
  } catch (err) {
    server.forceShutdown();
    await backend.stop();
    throw err;
  }
  const { address } = listener;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 5000;
  let garden: GardenListener | undefined;
  try {
    garden = await startGardenHttp(config, backend, logger);
  } catch (err) {
    server.forceShutdown();
    await listener.cleanup();
    await backend.stop();
    throw err;
  }
  let metricsServer: MetricsServer | undefined;
  try {
    if (metrics) metricsServer = await startMetricsServer(config, metrics, logger);
  } catch (err) {
    server.forceShutdown();
    await garden?.close(0);
    await listener.cleanup();
    await backend.stop();
    throw err;
  }
  logger.info('arbord-started', { address, backend: config.backend, pid: process.pid });
  logInsecureListener(config, address, logger);
  await logContainerCapacity(config, backend, logger);

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    logger.info('arbord-stopping', { address });
    health.setStatus('', 'NOT_SERVING');
    health.setStatus(GARDEN_SERVICE_NAME, 'NOT_SERVING');
    // Events calls never end by themselves: end them first, or shutdown would wait its whole timeout
    backend.endEvents();
    // Run/Attach over Garden's HTTP detach at once (the processes keep running), as in Garden
    await Promise.all([shutdown(server, shutdownTimeoutMs), garden?.close(shutdownTimeoutMs), metricsServer?.close()]);
    await backend.stop();
    await listener.cleanup();
    logger.info('arbord-stopped', { address });
  };
  return {
    address,
    gardenAddress: garden?.address ?? '',
    metricsAddress: metricsServer?.address ?? '',
    config,
    backend,
    stop: () => (stopping ??= stop()),
  };
}
