import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import { ArborError, InvalidArgumentError, silentLogger } from '@arbor/core';
import type { Client, Logger, Process, ProcessIO, Signal } from '@arbor/core';
import { toGardenError } from './garden-error';
import {
  bandwidthToGarden,
  capacityToGarden,
  containerInfoToGarden,
  containerSpecFromGarden,
  cpuToGarden,
  diskToGarden,
  graceTimeMsFromNs,
  memoryToGarden,
  metricsToGarden,
  netOutRuleFromGarden,
  processSpecFromGarden,
  ttyFromGarden,
  ZERO_INFO,
  ZERO_METRICS,
} from './garden-json';
import { ByteReader, HttpError, endSocket, head, hijackHead, readAll, readHead, requestBody, write } from './http-connection';
import type { RequestHead } from './http-connection';
import { OutputStream } from './output-stream';

export interface GardenHttpOptions {
  logger?: Logger;
  /** maxJsonBytes bounds a JSON request body; default 1 MiB. */
  maxJsonBytes?: number;
  /** maxBufferedOutputBytes bounds the output of one stream waiting for its attacher; default 1 MiB. */
  maxBufferedOutputBytes?: number;
  /** unattachedWaitMs: how long full, never-attached output holds a process back before it is discarded; default 10 s. */
  unattachedWaitMs?: number;
  /** streamKeepMs: how long a finished stream's output waits for late attachers; default 60 s, as Garden's streamer. */
  streamKeepMs?: number;
  /** headTimeoutMs: how long a new connection may take to send its request head; default 30 s. */
  headTimeoutMs?: number;
}

/** MAX_INPUT_LINE bounds one JSON message on a Run/Attach connection (a 32 KiB stdin write escapes to < 200 KiB). */
const MAX_INPUT_LINE = 1024 * 1024;
/** LINGER_MS is how long a connection may keep sending after its response before it is cut. */
const LINGER_MS = 2000;

interface Ctx {
  socket: Socket;
  reader: ByteReader;
  head: RequestHead;
  params: Record<string, string>;
  log: Logger;
  /** hijacked: the handler owns the socket now (Run, Attach, stdout, stderr, StreamOut). */
  hijacked: boolean;
}

type Handler = (ctx: Ctx) => Promise<unknown>;

interface Route {
  method: string;
  segments: string[];
  name: string;
  handler: Handler;
}

interface StreamEntry {
  id: string;
  handle: string;
  processId: string;
  stdout: OutputStream;
  stderr: OutputStream;
  timer?: NodeJS.Timeout;
}

/** ProcessPayload is transport.ProcessPayload, what flows on a Run/Attach connection. */
interface ProcessPayload {
  source?: number | null;
  data?: string | null;
  tty?: unknown;
  signal?: number | null;
}

/**
 * GardenHttpServer serves Garden's HTTP wire protocol (routes/routes.go) over a Client:
 * the same Backend instance arbord serves over gRPC, so both fronts reach one Gardener.
 * Each handler decodes Garden's JSON, calls the Client, encodes Garden's JSON; every error
 * goes out through toGardenError. One request per connection, as Garden's client does.
 */
export class GardenHttpServer {
  private readonly log: Logger;
  private readonly routes: Route[];
  private readonly maxJsonBytes: number;
  private readonly streamKeepMs: number;
  private readonly streams = new Map<string, StreamEntry>();
  private nextStreamId = 0;
  private readonly sockets = new Set<Socket>();
  private readonly inFlight = new Set<Promise<void>>();
  private closing = false;

  constructor(
    private readonly client: Client,
    private readonly options: GardenHttpOptions = {},
  ) {
    this.log = (options.logger ?? silentLogger).child({ front: 'garden-http' });
    this.maxJsonBytes = options.maxJsonBytes ?? 1024 * 1024;
    this.streamKeepMs = options.streamKeepMs ?? 60_000;
    this.routes = this.buildRoutes();
  }

  /** handleConnection serves one accepted connection (from a net or tls server). */
  handleConnection(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on('error', (err) => this.log.debug('connection-error', { error: err.message }));
    socket.once('close', () => this.sockets.delete(socket));
    const served = this.serve(socket).catch((err: unknown) => {
      this.log.error('connection-failed', { error: err instanceof Error ? err.message : String(err) });
      socket.destroy();
    });
    this.inFlight.add(served);
    void served.finally(() => this.inFlight.delete(served));
  }

  /**
   * close detaches every Run/Attach connection (the processes keep running, as in Garden),
   * lets plain requests finish for up to timeoutMs, then cuts what is left.
   */
  async close(timeoutMs = 5000): Promise<void> {
    this.closing = true;
    for (const socket of this.sockets) {
      if ((socket as Socket & { gardenHijacked?: boolean }).gardenHijacked) socket.destroy();
    }
    const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.inFlight]), timer]);
    for (const socket of this.sockets) socket.destroy();
    for (const entry of this.streams.values()) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.stdout.close();
      entry.stderr.close();
    }
    this.streams.clear();
  }

  private async serve(socket: Socket): Promise<void> {
    const reader = new ByteReader(socket);
    // a client that opens connections and never finishes a head must not hold them forever
    const headTimer = setTimeout(() => socket.destroy(), this.options.headTimeoutMs ?? 30_000);
    headTimer.unref();
    let requestHead: RequestHead | null;
    try {
      requestHead = await readHead(reader);
    } catch (err) {
      await this.respondError(socket, err, this.log);
      return;
    } finally {
      clearTimeout(headTimer);
    }
    if (requestHead === null) {
      socket.destroy();
      return;
    }
    const match = this.match(requestHead);
    // requestId tells this request's lines apart, the ports' included: the log reaches them as the call's CallContext
    const log = this.log.child({ route: match?.route.name ?? 'none', requestId: randomBytes(4).toString('hex') });
    if (!match) {
      const known = this.routes.some((r) => this.params(r, requestHead.path) !== undefined);
      await this.respondError(socket, new HttpError(404, `${known ? 'method not allowed' : 'no such route'}: ${requestHead.method} ${requestHead.path}`), log);
      return;
    }
    if (requestHead.headers.get('expect')?.toLowerCase() === '100-continue') socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    const ctx: Ctx = { socket, reader, head: requestHead, params: match.params, log, hijacked: false };
    const started = Date.now();
    try {
      const result = await match.route.handler(ctx);
      if (!ctx.hijacked) await this.respondJson(socket, 200, result);
      log.debug('request-finished', { durationMs: Date.now() - started });
    } catch (err) {
      if (ctx.hijacked) {
        log.info('stream-failed', { error: err instanceof Error ? err.message : String(err) });
        socket.destroy();
        return;
      }
      await this.respondError(socket, err, log);
    }
  }

  private params(route: Route, path: string): Record<string, string> | undefined {
    const parts = path.split('/').slice(1);
    if (parts.length !== route.segments.length) return undefined;
    const params: Record<string, string> = {};
    for (let i = 0; i < parts.length; i++) {
      const want = route.segments[i] ?? '';
      let got: string;
      try {
        got = decodeURIComponent(parts[i] ?? '');
      } catch {
        return undefined;
      }
      if (want.startsWith(':')) {
        // pat's :param matches one non-empty segment
        if (got === '') return undefined;
        params[want.slice(1)] = got;
      } else if (want !== got) {
        return undefined;
      }
    }
    return params;
  }

  private match(h: RequestHead): { route: Route; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== h.method) continue;
      const params = this.params(route, h.path);
      if (params) return { route, params };
    }
    return undefined;
  }

  private async respondJson(socket: Socket, status: number, value: unknown): Promise<void> {
    const body = Buffer.from(`${JSON.stringify(value ?? {})}\n`);
    const text = head(status, [
      ['Content-Type', 'application/json'],
      ['Date', new Date().toUTCString()],
      ['Content-Length', String(body.length)],
      ['Connection', 'close'],
    ]);
    await write(socket, Buffer.concat([Buffer.from(text, 'latin1'), body]));
    await this.finish(socket);
  }

  private async respondError(socket: Socket, err: unknown, log: Logger): Promise<void> {
    const { status, body } = toGardenError(err);
    if (status >= 500) log.error('request-failed', { status, error: body.Message });
    else log.debug('request-failed', { status, error: body.Message });
    await this.respondJson(socket, status, body);
  }

  /** finish ends the response; what the client still sends is left unread and cut after LINGER_MS. */
  private async finish(socket: Socket): Promise<void> {
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    await endSocket(socket);
  }

  private async json(ctx: Ctx): Promise<unknown> {
    const bytes = await readAll(requestBody(ctx.reader, ctx.head), this.maxJsonBytes);
    const text = bytes.toString('utf8').trim();
    if (text === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new InvalidArgumentError('body', `is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private lookup(ctx: Ctx) {
    return this.client.lookup(ctx.params['handle'] ?? '', { logger: ctx.log });
  }

  private buildRoutes(): Route[] {
    const r = (method: string, path: string, name: string, handler: Handler): Route => ({
      method,
      segments: path.split('/').slice(1),
      name,
      handler,
    });
    const c = this.client;
    const bulkHandles = (ctx: Ctx): string[] => {
      const joined = ctx.head.query.get('handles') ?? '';
      return joined === '' ? [] : joined.split(',');
    };
    const fieldOf = (body: unknown, key: string): unknown =>
      typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>)[key] : undefined;
    const typed = <T>(value: unknown, field: string, type: 'boolean' | 'string' | 'number', fallback: T): T => {
      if (value === undefined || value === null) return fallback;
      if (typeof value !== type) throw new InvalidArgumentError(field, `must be a ${type}`);
      return value as T;
    };
    return [
      r('GET', '/ping', 'Ping', async () => {
        await c.ping();
        return {};
      }),
      r('GET', '/capacity', 'Capacity', async () => capacityToGarden(await c.capacity())),
      r('GET', '/containers', 'List', async (ctx) => {
        const filter: Record<string, string> = {};
        for (const key of new Set(ctx.head.query.keys())) filter[key] = ctx.head.query.get(key) ?? '';
        const containers = await c.containers(filter, { logger: ctx.log });
        return { Handles: containers.map((x) => x.handle) };
      }),
      r('POST', '/containers', 'Create', async (ctx) => {
        const container = await c.create(containerSpecFromGarden(await this.json(ctx)), { logger: ctx.log });
        ctx.log.info('container-created', { handle: container.handle });
        return { Handle: container.handle };
      }),
      r('GET', '/containers/bulk_info', 'BulkInfo', async (ctx) => {
        const out: Record<string, unknown> = {};
        for (const [handle, res] of Object.entries(await c.bulkInfo(bulkHandles(ctx), { logger: ctx.log }))) {
          out[handle] = res.error ? { Info: ZERO_INFO, Err: toGardenError(res.error).body } : { Info: containerInfoToGarden(res.value), Err: null };
        }
        return out;
      }),
      r('GET', '/containers/bulk_metrics', 'BulkMetrics', async (ctx) => {
        const out: Record<string, unknown> = {};
        for (const [handle, res] of Object.entries(await c.bulkMetrics(bulkHandles(ctx), { logger: ctx.log }))) {
          out[handle] = res.error ? { Metrics: ZERO_METRICS, Err: toGardenError(res.error).body } : { Metrics: metricsToGarden(res.value), Err: null };
        }
        return out;
      }),
      r('GET', '/containers/:handle/info', 'Info', async (ctx) => containerInfoToGarden(await (await this.lookup(ctx)).info())),
      r('DELETE', '/containers/:handle', 'Destroy', async (ctx) => {
        await c.destroy(ctx.params['handle'] ?? '', { logger: ctx.log });
        ctx.log.info('container-destroyed', { handle: ctx.params['handle'] });
        return {};
      }),
      r('PUT', '/containers/:handle/stop', 'Stop', async (ctx) => {
        const kill = typed(fieldOf(await this.json(ctx), 'kill'), 'kill', 'boolean', false);
        await (await this.lookup(ctx)).stop(kill);
        return {};
      }),
      r('PUT', '/containers/:handle/files', 'StreamIn', (ctx) => this.streamIn(ctx)),
      r('GET', '/containers/:handle/files', 'StreamOut', (ctx) => this.streamOut(ctx)),
      r('GET', '/containers/:handle/limits/bandwidth', 'CurrentBandwidthLimits', async (ctx) =>
        bandwidthToGarden(await (await this.lookup(ctx)).currentBandwidthLimits()),
      ),
      r('GET', '/containers/:handle/limits/cpu', 'CurrentCPULimits', async (ctx) => cpuToGarden(await (await this.lookup(ctx)).currentCpuLimits())),
      r('GET', '/containers/:handle/limits/disk', 'CurrentDiskLimits', async (ctx) => diskToGarden(await (await this.lookup(ctx)).currentDiskLimits())),
      r('GET', '/containers/:handle/limits/memory', 'CurrentMemoryLimits', async (ctx) => memoryToGarden(await (await this.lookup(ctx)).currentMemoryLimits())),
      r('POST', '/containers/:handle/net/in', 'NetIn', async (ctx) => {
        const body = await this.json(ctx);
        const port = (key: string): number => {
          const v = typed<number>(fieldOf(body, key), key, 'number', 0);
          if (!Number.isInteger(v) || v < 0 || v > 65535) throw new InvalidArgumentError(key, 'must be a port from 0 to 65535');
          return v;
        };
        const hostPort = port('host_port');
        const containerPort = port('container_port');
        const mapping = await (await this.lookup(ctx)).netIn(hostPort, containerPort);
        const out: Record<string, number> = {};
        if (mapping.hostPort) out['host_port'] = mapping.hostPort;
        if (mapping.containerPort) out['container_port'] = mapping.containerPort;
        return out;
      }),
      r('POST', '/containers/:handle/net/out', 'NetOut', async (ctx) => {
        const rule = netOutRuleFromGarden(await this.json(ctx), 'rule');
        await (await this.lookup(ctx)).netOut(rule);
        return {};
      }),
      r('POST', '/containers/:handle/net/out/bulk', 'BulkNetOut', async (ctx) => {
        const body = await this.json(ctx);
        if (body !== undefined && body !== null && !Array.isArray(body)) throw new InvalidArgumentError('rules', 'must be a JSON array');
        const rules = ((body as unknown[] | null | undefined) ?? []).map((x, i) => netOutRuleFromGarden(x, `rules[${i}]`));
        await (await this.lookup(ctx)).bulkNetOut(rules);
        return {};
      }),
      r('GET', '/containers/:handle/processes/:pid/attaches/:streamid/stdout', 'Stdout', (ctx) => this.attachOutput(ctx, 'stdout')),
      r('GET', '/containers/:handle/processes/:pid/attaches/:streamid/stderr', 'Stderr', (ctx) => this.attachOutput(ctx, 'stderr')),
      r('POST', '/containers/:handle/processes', 'Run', (ctx) => this.processStream(ctx, 'run')),
      r('GET', '/containers/:handle/processes/:pid', 'Attach', (ctx) => this.processStream(ctx, 'attach')),
      r('PUT', '/containers/:handle/grace_time', 'SetGraceTime', async (ctx) => {
        const ns = await this.json(ctx);
        if (typeof ns !== 'number' || !Number.isSafeInteger(ns) || ns < 0) {
          throw new InvalidArgumentError('grace_time', 'must be a whole number of nanoseconds, 0 or more');
        }
        await (await this.lookup(ctx)).setGraceTime(graceTimeMsFromNs(ns));
        return {};
      }),
      r('GET', '/containers/:handle/properties', 'Properties', async (ctx) => (await this.lookup(ctx)).properties()),
      r('GET', '/containers/:handle/properties/:key', 'Property', async (ctx) => ({
        value: await (await this.lookup(ctx)).property(ctx.params['key'] ?? ''),
      })),
      r('PUT', '/containers/:handle/properties/:key', 'SetProperty', async (ctx) => {
        const value = typed(fieldOf(await this.json(ctx), 'value'), 'value', 'string', '');
        await (await this.lookup(ctx)).setProperty(ctx.params['key'] ?? '', value);
        return {};
      }),
      r('DELETE', '/containers/:handle/properties/:key', 'RemoveProperty', async (ctx) => {
        await (await this.lookup(ctx)).removeProperty(ctx.params['key'] ?? '');
        return {};
      }),
      r('GET', '/containers/:handle/metrics', 'Metrics', async (ctx) => metricsToGarden(await (await this.lookup(ctx)).metrics())),
    ];
  }

  /** streamIn hands the request body to the backend as it arrives: the socket is read only as fast as the tar is extracted. */
  private async streamIn(ctx: Ctx): Promise<unknown> {
    const container = await this.lookup(ctx);
    const user = ctx.head.query.get('user') ?? '';
    const tar = requestBody(ctx.reader, ctx.head);
    tar.on('error', (err) => ctx.log.debug('stream-in-body-failed', { error: err.message }));
    try {
      await container.streamIn({ path: ctx.head.query.get('destination') ?? '', ...(user && { user }), tar });
    } finally {
      if (!tar.destroyed) tar.destroy();
    }
    return {};
  }

  /**
   * streamOut sends the tar as a chunked body. An error before the first byte is Garden's
   * JSON error; after it, the connection is cut without the last chunk, so the client sees
   * a truncated body rather than a tar that looks complete.
   */
  private async streamOut(ctx: Ctx): Promise<unknown> {
    const container = await this.lookup(ctx);
    const user = ctx.head.query.get('user') ?? '';
    const tar: Readable = await container.streamOut({ path: ctx.head.query.get('source') ?? '', ...(user && { user }) });
    const { socket } = ctx;
    const stop = (): void => {
      tar.destroy();
    };
    socket.once('close', stop);
    const iterator = (tar as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
    try {
      // the first chunk before the head: a tar that fails at once is still a JSON error
      let next = await iterator.next();
      ctx.hijacked = true;
      const headText = head(200, [
        ['Content-Type', 'application/x-tar'],
        ['Date', new Date().toUTCString()],
        ['Transfer-Encoding', 'chunked'],
        ['Connection', 'close'],
      ]);
      if (!(await write(socket, headText))) return {};
      while (!next.done) {
        const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
        if (chunk.length > 0) {
          const framed = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
          if (!(await write(socket, framed))) return {};
        }
        next = await iterator.next();
      }
      await write(socket, '0\r\n\r\n');
      await this.finish(socket);
      return {};
    } finally {
      socket.off('close', stop);
      stop();
    }
  }

  private newStream(handle: string, log: Logger): StreamEntry {
    const id = String(++this.nextStreamId);
    const options = (name: string) => ({
      maxBufferedBytes: this.options.maxBufferedOutputBytes ?? 1024 * 1024,
      unattachedWaitMs: this.options.unattachedWaitMs ?? 10_000,
      onDiscard: () => log.info('output-discarded', { streamId: id, stream: name, reason: 'no client attached to it' }),
    });
    const entry: StreamEntry = { id, handle, processId: '', stdout: new OutputStream(options('stdout')), stderr: new OutputStream(options('stderr')) };
    this.streams.set(id, entry);
    return entry;
  }

  /** forgetLater keeps a finished stream for late attachers for streamKeepMs, like Garden's streamer.Stop. */
  private forgetLater(entry: StreamEntry): void {
    entry.timer = setTimeout(() => {
      this.streams.delete(entry.id);
      entry.stdout.close();
      entry.stderr.close();
    }, this.streamKeepMs);
    entry.timer.unref();
  }

  private async attachOutput(ctx: Ctx, which: 'stdout' | 'stderr'): Promise<unknown> {
    const entry = this.streams.get(ctx.params['streamid'] ?? '');
    if (!entry || entry.handle !== ctx.params['handle'] || entry.processId !== ctx.params['pid']) {
      // Garden answers 200 and closes at once, which its client takes for empty output
      throw new HttpError(
        404,
        `unknown stream id ${ctx.params['streamid'] ?? ''} for process ${ctx.params['pid'] ?? ''} of container ${ctx.params['handle'] ?? ''}`,
      );
    }
    ctx.hijacked = true;
    (ctx.socket as Socket & { gardenHijacked?: boolean }).gardenHijacked = true;
    ctx.socket.write(hijackHead(200, false));
    entry[which].attach(ctx.socket);
    ctx.log.debug('output-attached', { streamId: entry.id, stream: which });
    return {};
  }

  /**
   * processStream serves Run and Attach as Garden does: after the status line, the socket
   * carries newline-delimited JSON both ways. First {process_id, stream_id}; then the
   * client's stdin, stdin close, tty and signal messages; last {process_id, exit_status} (or
   * error), sent only once the attached stdout/stderr connections have every byte and have
   * ended. A client that goes away detaches: stdin closes, the process keeps running.
   */
  private async processStream(ctx: Ctx, mode: 'run' | 'attach'): Promise<unknown> {
    const handle = ctx.params['handle'] ?? '';
    let log = ctx.log.child({ handle });
    const spec = mode === 'run' ? processSpecFromGarden(await this.json(ctx)) : undefined;
    const container = await this.lookup(ctx);
    const entry = this.newStream(handle, log);
    const stdin = new PassThrough();
    stdin.on('error', (err) => log.debug('stdin-error', { error: err.message }));
    const detach = new AbortController();
    const io: ProcessIO = { stdin, stdout: entry.stdout.writable, stderr: entry.stderr.writable, detach: detach.signal };
    let process: Process;
    try {
      process = spec ? await container.run(spec, io) : await container.attach(ctx.params['pid'] ?? '', io);
    } catch (err) {
      this.streams.delete(entry.id);
      entry.stdout.close();
      entry.stderr.close();
      stdin.destroy();
      throw err;
    }
    entry.processId = process.id;
    log = log.child({ processId: process.id, streamId: entry.id });
    log.info(mode === 'run' ? 'process-started' : 'process-attached');
    const { socket } = ctx;
    ctx.hijacked = true;
    (socket as Socket & { gardenHijacked?: boolean }).gardenHijacked = true;
    const first = `${JSON.stringify({ process_id: process.id, stream_id: entry.id })}\n`;
    socket.write(hijackHead(mode === 'run' ? 201 : 200, true) + first);

    const stopInput = new AbortController();
    const inputDone = this.readInput(ctx.reader, process, stdin, stopInput.signal, log);
    const detached = inputDone.then(() => 'detached' as const);
    const outcome = await Promise.race([
      process.wait().then(
        (status) => ({ status }),
        (err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }),
      ),
      detached,
    ]);
    if (outcome === 'detached') {
      log.info('process-detached');
      stdin.end();
      detach.abort();
      await Promise.all([entry.stdout.end(), entry.stderr.end()]);
      this.forgetLater(entry);
      socket.destroy();
      return {};
    }
    stopInput.abort();
    await Promise.all([entry.stdout.end(), entry.stderr.end()]);
    const last = 'status' in outcome ? { process_id: process.id, exit_status: outcome.status } : { process_id: process.id, error: outcome.error };
    await write(socket, `${JSON.stringify(last)}\n`);
    await endSocket(socket);
    stdin.end();
    this.forgetLater(entry);
    log.info('process-exited', last);
    return {};
  }

  /**
   * readInput reads the client's messages until the connection ends (or stop is aborted,
   * once the exit status is out), checking tty, then source, then signal, as Garden's
   * streamInput does. Stdin is written with back-pressure: the next message is read only
   * once the process has room for this one.
   */
  private async readInput(reader: ByteReader, process: Process, stdin: PassThrough, stop: AbortSignal, log: Logger): Promise<void> {
    const tooLong = (): HttpError => new HttpError(413, `a message longer than ${MAX_INPUT_LINE} bytes`);
    const stopped = new Promise<null>((resolve) => stop.addEventListener('abort', () => resolve(null), { once: true }));
    for (;;) {
      let line: Buffer | null;
      try {
        line = await Promise.race([reader.readUntil('\n', MAX_INPUT_LINE, tooLong), stopped]);
      } catch (err) {
        log.info('process-input-failed', { error: err instanceof Error ? err.message : String(err) });
        return;
      }
      if (line === null) return;
      const text = line.toString('utf8').trim();
      if (text === '') continue;
      let payload: ProcessPayload;
      try {
        const parsed = JSON.parse(text) as unknown;
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
        payload = parsed as ProcessPayload;
      } catch (err) {
        // Garden's decoder stops at the first bad message and treats the connection as closed
        log.info('process-input-invalid', { error: err instanceof Error ? err.message : String(err) });
        return;
      }
      if (payload.tty !== undefined && payload.tty !== null) {
        Promise.resolve()
          .then(() => process.setTty(ttyFromGarden(payload.tty, 'tty') ?? {}))
          .catch((err: unknown) => log.info('set-tty-failed', { error: String(err) }));
      } else if (payload.source !== undefined && payload.source !== null) {
        if (typeof payload.data === 'string') {
          if (!stdin.writableEnded && !stdin.write(Buffer.from(payload.data, 'utf8'))) {
            await once(stdin, 'drain', { signal: stop }).catch(() => undefined);
          }
        } else {
          stdin.end();
        }
      } else if (payload.signal !== undefined && payload.signal !== null) {
        const signal: Signal | undefined = payload.signal === 0 ? 'SIGTERM' : payload.signal === 1 ? 'SIGKILL' : undefined;
        if (signal === undefined) {
          // Garden closes stdin on a signal it does not know
          log.info('process-input-unknown-signal', { signal: payload.signal });
          stdin.end();
          continue;
        }
        Promise.resolve()
          .then(() => process.signal(signal))
          .catch((err: unknown) => log.info('signal-failed', { signal, error: ArborError.is(err) ? err.message : String(err) }));
      } else {
        log.info('process-input-unknown', { keys: Object.keys(payload) });
        stdin.end();
      }
    }
  }
}
