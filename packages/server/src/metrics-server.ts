import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@arbor/core';
import { parseMetricsListen } from './arbor-config';
import type { ArborConfig, MetricsListener } from './arbor-config';

/** MetricsText is what serveMetrics serves: ArborMetrics. */
export interface MetricsText {
  /** text is one scrape in Prometheus' text format. */
  text(): Promise<string>;
  contentType: string;
}

export interface MetricsServer {
  /** address is where /metrics is served, like '127.0.0.1:9324' or '[::1]:9324' (the port bound when 0 was asked). */
  address: string;
  close(): Promise<void>;
}

/**
 * serveMetrics serves GET /metrics in Prometheus' text format over plain HTTP (node:http) at
 * listener; any other path is 404, any other method 405. Metrics tell which containers exist
 * and what they do, so the listener is meant for loopback: startArbord says in the log when it
 * is not.
 * @throws the listen error (EADDRINUSE, EADDRNOTAVAIL) when the address cannot be bound
 */
export async function serveMetrics(listener: MetricsListener, registry: MetricsText, logger: Logger): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('method not allowed: use GET\n');
      return;
    }
    registry.text().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        logger.error('metrics-scrape-failed', { error: String(err) });
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics could not be collected: see the arbord log\n');
      },
    );
  });
  server.listen(listener.port, listener.host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([err]) => {
      throw err;
    }),
  ]);
  const bound = server.address() as AddressInfo;
  const address = bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // a scraper's keep-alive connection would hold close() open until it times out
        server.closeAllConnections();
      }),
  };
}

/**
 * startMetricsServer serves registry at config.metricsListen when it is set, and says in the
 * log where; loudly when the address is not loopback, since the metrics name every container
 * to whoever reaches the port. undefined when metricsListen is '' (off).
 * @throws the listen error when the address cannot be bound
 */
export async function startMetricsServer(config: ArborConfig, registry: MetricsText, logger: Logger): Promise<MetricsServer | undefined> {
  const listener = parseMetricsListen(config.metricsListen);
  if (!listener) return undefined;
  const served = await serveMetrics(listener, registry, logger);
  logger.info('metrics-started', { address: served.address, path: '/metrics' });
  if (!listener.loopback) {
    logger.info('metrics-listen-not-loopback', {
      address: served.address,
      note: 'anyone who reaches this port reads every container handle and its usage, over plain HTTP: prefer 127.0.0.1',
    });
  }
  return served;
}
