import { status } from '@grpc/grpc-js';
import type { ServiceDefinition, StatusObject } from '@grpc/grpc-js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ContainerSample, ContainerPhase, GardenerObserver, Logger } from '@arbor/core';
import { DirectorySize } from './directory-size';
import { errorOfStatus } from './to-grpc-status';

/** ContainerSampler is what a scrape reads containers through: the Gardener (Gardener.sample). */
export interface ContainerSampler {
  containers(): Promise<{ handle: string }[]>;
  sample(handle: string): Promise<ContainerSample>;
}

export interface ArborMetricsOptions {
  /** layerStoreDir is like /var/lib/arbor/images, measured for arbor_layer_store_bytes. */
  layerStoreDir: string;
  logger: Logger;
  /** sampleTimeoutMs bounds the read of one container in a scrape, like 5000; past it the container counts as failed. */
  sampleTimeoutMs?: number;
  /** sampleConcurrency is how many containers a scrape reads at once, like 8. */
  sampleConcurrency?: number;
}

/** CONTAINER_STATES are the states arbor_containers always shows, 0 when none is in it. */
const CONTAINER_STATES = ['active', 'stopped'] as const;

/** HELPER_ERRORS are the error names of @arbor/host' HelperRunner, and the reason each means. */
const HELPER_ERRORS: Record<string, string> = { HelperError: 'failed', HelperTimeoutError: 'timeout' };

/**
 * SNAPSHOT_MAX_AGE_MS: the collectors of one scrape run at once and share one read of the
 * containers; text() starts each scrape with a fresh read, this bounds reads made otherwise.
 */
const SNAPSHOT_MAX_AGE_MS = 1000;

interface Snapshot {
  samples: ContainerSample[];
  /** failed counts containers listed but not read (an error or sampleTimeoutMs). */
  failed: number;
}

type Callback = (err: unknown, ...rest: unknown[]) => void;
type Call = {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
};
type Handler = (call: Call, callback?: Callback) => void;

/**
 * ArborMetrics holds arbord's Prometheus metrics (prom-client, one registry per arbord): the
 * gRPC calls (instrument), the Gardener's steps (observer), helper failures seen in call
 * errors, and, read at each scrape, the containers, their processes and per-container usage
 * (watch) and the layer store's size.
 */
export class ArborMetrics {
  readonly registry = new Registry();
  private readonly rpcDuration: Histogram<'method'>;
  private readonly rpcErrors: Counter<'method' | 'code'>;
  private readonly streamsOpen: Gauge<'method'>;
  private readonly phaseDuration: Histogram<'op' | 'phase' | 'outcome'>;
  private readonly imagePulls: Counter<'outcome'>;
  private readonly imagePullDuration: Histogram<'outcome'>;
  private readonly helperFailures: Counter<'helper' | 'reason'>;
  private readonly sampleFailures: Counter;
  private readonly layerStore: DirectorySize;
  private sampler: ContainerSampler | undefined;
  private snapshotAt = 0;
  private snapshotPromise: Promise<Snapshot> | undefined;

  constructor(private readonly options: ArborMetricsOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.layerStore = new DirectorySize(options.layerStoreDir);

    this.rpcDuration = new Histogram({
      name: 'arbor_rpc_duration_seconds',
      help: 'Time from the start of a gRPC call to its status, by method (for a stream, its whole life).',
      labelNames: ['method'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.rpcErrors = new Counter({
      name: 'arbor_rpc_errors_total',
      help: 'gRPC calls that ended with a status other than OK, by method and status code name (NOT_FOUND).',
      labelNames: ['method', 'code'],
      registers,
    });
    this.streamsOpen = new Gauge({
      name: 'arbor_streams_open',
      help: 'Streaming gRPC calls (Run, Attach, StreamIn, StreamOut, PullImage) open now, by method.',
      labelNames: ['method'],
      registers,
    });
    this.phaseDuration = new Histogram({
      name: 'arbor_container_phase_duration_seconds',
      help: 'Time of one step of a container create or destroy: op create|destroy, phase volume|containerizer|network, outcome ok|error.',
      labelNames: ['op', 'phase', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.imagePulls = new Counter({
      name: 'arbor_image_pulls_total',
      help: 'PullImage calls on the backend (ahead of a create), by outcome ok|error.',
      labelNames: ['outcome'],
      registers,
    });
    this.imagePullDuration = new Histogram({
      name: 'arbor_image_pull_duration_seconds',
      help: 'Time of one PullImage on the backend, by outcome ok|error.',
      labelNames: ['outcome'],
      buckets: [0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    this.helperFailures = new Counter({
      name: 'arbor_helper_failures_total',
      help: 'Native helper runs (arbor-create, arbor-exec ...) that failed or timed out, as found in the errors of gRPC calls.',
      labelNames: ['helper', 'reason'],
      registers,
    });
    this.sampleFailures = new Counter({
      name: 'arbor_container_metrics_failures_total',
      help: 'Containers a scrape could not read (their series are missing from that scrape).',
      registers,
    });
    // the collectors' own `this` is their metric, so they reach this object through these
    const { layerStore } = this;
    const snapshot = (): Promise<Snapshot> => this.snapshot();
    new Gauge({
      name: 'arbor_layer_store_bytes',
      help: 'Bytes on disk of the image layer store (<stateDir>/images), measured at most every 30 s.',
      registers,
      async collect() {
        this.set(await layerStore.bytes());
      },
    });
    new Gauge({
      name: 'arbor_containers',
      help: 'Containers by state (active, stopped; unknown: could not be read).',
      labelNames: ['state'],
      registers,
      async collect() {
        const { samples, failed } = await snapshot();
        this.reset();
        for (const state of CONTAINER_STATES) this.set({ state }, 0);
        for (const s of samples) this.inc({ state: s.state });
        if (failed > 0) this.set({ state: 'unknown' }, failed);
      },
    });
    new Gauge({
      name: 'arbor_processes',
      help: 'Processes running in all containers.',
      registers,
      async collect() {
        const { samples } = await snapshot();
        this.set(samples.reduce((sum, s) => sum + s.processes, 0));
      },
    });
    this.perContainer('gauge', 'arbor_container_memory_usage_bytes', 'Memory a container uses, by handle.', (s) => s.metrics.memory.usageInBytes);
    this.perContainer('gauge', 'arbor_container_disk_usage_bytes', 'Disk bytes a container uses, by handle.', (s) => s.metrics.disk.totalBytesUsed);
    this.perContainer('gauge', 'arbor_container_pids', 'Processes and threads (pids) in a container, by handle.', (s) => s.metrics.pid.current);
    this.perContainer('counter', 'arbor_container_cpu_usage_seconds_total', 'CPU time a container has used, by handle.', (s) => s.metrics.cpu.usage / 1e9);
    this.perContainer(
      'counter',
      'arbor_container_network_receive_bytes_total',
      'Bytes a container has received, by handle.',
      (s) => s.metrics.network?.rxBytes,
    );
    this.perContainer('counter', 'arbor_container_network_transmit_bytes_total', 'Bytes a container has sent, by handle.', (s) => s.metrics.network?.txBytes);
  }

  /** observer is what the Gardener reports its steps to (GardenerPorts.observer). */
  readonly observer: GardenerObserver = {
    phase: (op: 'create' | 'destroy', phase: ContainerPhase, seconds: number, ok: boolean) =>
      this.phaseDuration.observe({ op, phase, outcome: ok ? 'ok' : 'error' }, seconds),
    imagePull: (seconds: number, ok: boolean) => {
      const outcome = ok ? 'ok' : 'error';
      this.imagePulls.inc({ outcome });
      this.imagePullDuration.observe({ outcome }, seconds);
    },
  };

  /** contentType is the Content-Type of text(), Prometheus' text format 0.0.4. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** text is one scrape: every metric in Prometheus' text format, the containers read afresh. */
  text(): Promise<string> {
    this.snapshotPromise = undefined;
    return this.registry.metrics();
  }

  /** watch names the Gardener whose containers each scrape reads. */
  watch(sampler: ContainerSampler): void {
    this.sampler = sampler;
  }

  /**
   * instrument wraps every handler of a gRPC service implementation, whatever its kind, to
   * time the call, count its errors by status code and keep the count of open streams.
   */
  instrument<T extends object>(definition: ServiceDefinition, implementation: T): T {
    const wrapped: Record<string, unknown> = { ...(implementation as Record<string, unknown>) };
    for (const [key, method] of Object.entries(definition)) {
      const handler = (implementation as Record<string, unknown>)[key];
      if (typeof handler !== 'function') continue;
      const name = method.path.slice(method.path.lastIndexOf('/') + 1);
      wrapped[key] = method.responseStream ? this.wrapStreaming(name, handler as Handler) : this.wrapCallback(name, handler as Handler, method.requestStream);
    }
    return wrapped as T;
  }

  /** wrapCallback wraps a unary or client-streaming handler: the call ends at its callback. */
  private wrapCallback(method: string, handler: Handler, streaming: boolean): Handler {
    return (call, callback) => {
      const done = this.callStarted(method, streaming);
      if (streaming) call.once('cancelled', () => done({ code: status.CANCELLED }));
      handler(call, (err, ...rest) => {
        done(err);
        callback?.(err, ...rest);
      });
    };
  }

  /**
   * wrapStreaming wraps a server- or bidi-streaming handler: the call ends when the handler
   * ends it (finish), fails it (an 'error' event carries the status) or the client cancels.
   */
  private wrapStreaming(method: string, handler: Handler): Handler {
    return (call) => {
      const done = this.callStarted(method, true);
      let failure: unknown = null;
      call.on('error', (err: unknown) => (failure ??= err));
      call.once('finish', () => done(failure));
      call.once('cancelled', () => done({ code: status.CANCELLED }));
      handler(call);
    };
  }

  /** callStarted starts the clock of one call; the function it returns ends it once, with its error (null: OK). */
  private callStarted(method: string, streaming: boolean): (err: unknown) => void {
    const stopTimer = this.rpcDuration.startTimer({ method });
    if (streaming) this.streamsOpen.inc({ method });
    let ended = false;
    return (err) => {
      if (ended) return;
      ended = true;
      stopTimer();
      if (streaming) this.streamsOpen.dec({ method });
      if (err === null || err === undefined) return;
      const code = (err as Partial<StatusObject>).code ?? status.UNKNOWN;
      if (code === status.OK) return;
      this.rpcErrors.inc({ method, code: status[code] ?? String(code) });
      if (typeof err === 'object') this.countHelperFailures(errorOfStatus(err));
    };
  }

  /** countHelperFailures finds HelperErrors in err, its causes and aggregated errors (a failed destroy gathers several). */
  private countHelperFailures(err: unknown): void {
    const seen = new Set<unknown>();
    const visit = (e: unknown, depth: number): void => {
      if (typeof e !== 'object' || e === null || seen.has(e) || depth > 8) return;
      seen.add(e);
      const { name, helper } = e as { name?: unknown; helper?: unknown };
      const reason = typeof name === 'string' ? HELPER_ERRORS[name] : undefined;
      if (reason !== undefined && typeof helper === 'string') this.helperFailures.inc({ helper, reason });
      visit((e as { cause?: unknown }).cause, depth + 1);
      if (e instanceof AggregateError) for (const inner of e.errors) visit(inner, depth + 1);
    };
    visit(err, 0);
  }

  /** perContainer registers a series per container handle, read at each scrape; series of destroyed containers go. */
  private perContainer(kind: 'gauge' | 'counter', name: string, help: string, value: (s: ContainerSample) => number | undefined): void {
    // the collectors' own `this` is their metric
    const snapshot = (): Promise<Snapshot> => this.snapshot();
    const registers = [this.registry];
    if (kind === 'gauge') {
      new Gauge({
        name,
        help,
        labelNames: ['handle'],
        registers,
        async collect() {
          const { samples } = await snapshot();
          this.reset();
          // a value the container could not report (network counters) is left out, not shown as 0
          for (const s of samples) {
            const v = value(s);
            if (v !== undefined) this.set({ handle: s.handle }, finite(v));
          }
        },
      });
      return;
    }
    new Counter({
      name,
      help,
      labelNames: ['handle'],
      registers,
      async collect() {
        const { samples } = await snapshot();
        this.reset();
        for (const s of samples) {
          const v = value(s);
          if (v !== undefined) this.inc({ handle: s.handle }, finite(v));
        }
      },
    });
  }

  /** snapshot reads every container once for the collectors of one scrape, which run together. */
  private snapshot(): Promise<Snapshot> {
    const now = Date.now();
    if (this.snapshotPromise && now - this.snapshotAt < SNAPSHOT_MAX_AGE_MS) return this.snapshotPromise;
    this.snapshotAt = now;
    this.snapshotPromise = this.readContainers();
    return this.snapshotPromise;
  }

  private async readContainers(): Promise<Snapshot> {
    const sampler = this.sampler;
    if (!sampler) return { samples: [], failed: 0 };
    const handles = (await sampler.containers()).map((c) => c.handle);
    const timeoutMs = this.options.sampleTimeoutMs ?? 5000;
    const samples: ContainerSample[] = [];
    let failed = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < handles.length) {
        const handle = handles[next++] as string;
        try {
          samples.push(await withTimeout(sampler.sample(handle), timeoutMs, `sample ${handle}`));
        } catch (err) {
          // a container destroyed since the list is not a failure
          if ((err as { name?: string }).name === 'ContainerNotFoundError') continue;
          failed++;
          this.options.logger.debug('metrics-sample-failed', { handle, error: String(err) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.sampleConcurrency ?? 8, handles.length) }, worker));
    if (failed > 0) this.sampleFailures.inc(failed);
    samples.sort((a, b) => a.handle.localeCompare(b.handle));
    return { samples, failed };
  }
}

/** finite keeps a NaN or a negative number (a reading that went wrong) from becoming a sample. */
function finite(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
