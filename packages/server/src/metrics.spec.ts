import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status } from '@grpc/grpc-js';
import type { ServiceDefinition, ServiceError, handleUnaryCall } from '@grpc/grpc-js';
import { ArborError, silentLogger } from '@arbor/core';
import { ContainerSpec, GardenClient, ProcessSpec } from '@arbor/proto';
import type { ProcessOutput } from '@arbor/proto';
import { pack } from 'tar-stream';
import { ArborMetrics } from './arbor-metrics';
import { startArbord } from './start-arbord';
import type { RunningArbord } from './start-arbord';
import { toGrpcStatus } from './to-grpc-status';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arbord-metrics-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Sample is one line of Prometheus' text format, like arbor_containers{state="active"} 2. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
      return { name: m[1] as string, labels, value: Number(m[3]) };
    });
}

/** value is the one sample of name whose labels include labels; undefined when there is none. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

async function scrape(arbord: RunningArbord): Promise<Sample[]> {
  const res = await fetch(`http://${arbord.metricsAddress}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
  return parse(await res.text());
}

function unary<Res>(fn: (cb: (err: ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res))));
}

describe('arbord /metrics (fake backend)', () => {
  let arbord: RunningArbord;
  let client: GardenClient;
  beforeAll(async () => {
    arbord = await startArbord(
      { backend: 'fake', stateDir: join(dir, 'state'), listen: `unix://${dir}/arbord.sock`, metricsListen: '127.0.0.1:0' },
      { logger: silentLogger, shutdownTimeoutMs: 500 },
    );
    client = new GardenClient(arbord.address, credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await arbord.stop();
  });

  test('binds a free port on loopback when asked for port 0, and serves only /metrics', async () => {
    expect(arbord.metricsAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(arbord.metricsAddress).not.toBe('127.0.0.1:0');
    expect((await fetch(`http://${arbord.metricsAddress}/`)).status).toBe(404);
    expect((await fetch(`http://${arbord.metricsAddress}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  test('after a few operations, the calls, containers, processes, streams and phases show with their values', async () => {
    for (const handle of ['metrics-a', 'metrics-b']) {
      await unary((cb) => client.create({ spec: { ...ContainerSpec.create(), handle } }, cb));
    }
    // a file streamed in counts as disk use of metrics-a
    const tar = pack();
    tar.entry({ name: 'data.bin' }, Buffer.alloc(10_000, 1));
    tar.finalize();
    const tarBytes: Buffer[] = [];
    for await (const chunk of tar) tarBytes.push(chunk as Buffer);
    await new Promise<void>((resolve, reject) => {
      const call = client.streamIn((err) => (err ? reject(err) : resolve()));
      call.write({ part: { $case: 'header', value: { handle: 'metrics-a', path: '/', user: '' } } });
      call.write({ part: { $case: 'tar', value: Buffer.concat(tarBytes) } });
      call.end();
    });
    // a process that runs until its stdin closes: one process, one open Run stream
    const run = client.run();
    const ended = new Promise<void>((resolve, reject) => {
      run.on('data', () => undefined);
      run.on('end', resolve);
      run.on('error', reject);
    });
    const started = new Promise<void>((resolve) => run.on('data', (m: ProcessOutput) => m.output?.$case === 'started' && resolve()));
    run.write({ input: { $case: 'start', value: { handle: 'metrics-a', spec: { ...ProcessSpec.create(), path: 'cat' } } } });
    await started;
    // a failing call, and two pulls: one of a directory, one of nothing
    const missing = await unary((cb) => client.lookup({ handle: 'no-such-container' }, cb)).catch((err: ServiceError) => err);
    expect((missing as ServiceError).code).toBe(status.NOT_FOUND);
    const pull = (uri: string) =>
      new Promise<void>((resolve, reject) => {
        const call = client.pullImage({ image: { uri, username: '', password: '' } });
        call.on('data', () => undefined);
        call.on('end', resolve);
        call.on('error', reject);
      });
    await pull(`raw://${dir}`);
    await expect(pull('raw:///no-such-dir')).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });

    let m = await scrape(arbord);
    expect(value(m, 'arbor_rpc_duration_seconds_count', { method: 'Create' })).toBe(2);
    expect(value(m, 'arbor_rpc_duration_seconds_count', { method: 'StreamIn' })).toBe(1);
    expect(value(m, 'arbor_rpc_duration_seconds_count', { method: 'PullImage' })).toBe(2);
    expect(value(m, 'arbor_rpc_errors_total', { method: 'PullImage', code: 'INVALID_ARGUMENT' })).toBe(1);
    expect(value(m, 'arbor_rpc_duration_seconds_count', { method: 'Run' })).toBeUndefined(); // still open
    expect(value(m, 'arbor_rpc_errors_total', { method: 'Lookup', code: 'NOT_FOUND' })).toBe(1);
    expect(value(m, 'arbor_rpc_errors_total', { method: 'Create' })).toBeUndefined();
    expect(value(m, 'arbor_streams_open', { method: 'Run' })).toBe(1);
    expect(value(m, 'arbor_streams_open', { method: 'StreamIn' })).toBe(0);
    expect(value(m, 'arbor_containers', { state: 'active' })).toBe(2);
    expect(value(m, 'arbor_containers', { state: 'stopped' })).toBe(0);
    expect(value(m, 'arbor_processes')).toBe(1);
    for (const phase of ['volume', 'containerizer', 'network']) {
      expect(value(m, 'arbor_container_phase_duration_seconds_count', { op: 'create', phase, outcome: 'ok' })).toBe(2);
    }
    expect(value(m, 'arbor_image_pulls_total', { outcome: 'ok' })).toBe(1);
    expect(value(m, 'arbor_image_pulls_total', { outcome: 'error' })).toBe(1);
    expect(value(m, 'arbor_image_pull_duration_seconds_count', { outcome: 'ok' })).toBe(1);
    expect(value(m, 'arbor_layer_store_bytes')).toBe(0); // no <stateDir>/images on the fake
    expect(value(m, 'arbor_container_pids', { handle: 'metrics-a' })).toBe(1);
    expect(value(m, 'arbor_container_pids', { handle: 'metrics-b' })).toBe(0);
    expect(value(m, 'arbor_container_disk_usage_bytes', { handle: 'metrics-a' })).toBeGreaterThanOrEqual(10_000);
    for (const name of [
      'arbor_container_memory_usage_bytes',
      'arbor_container_cpu_usage_seconds_total',
      'arbor_container_network_receive_bytes_total',
      'arbor_container_network_transmit_bytes_total',
    ]) {
      expect(value(m, name, { handle: 'metrics-b' })).toBe(0); // the fake accounts none of these
    }
    expect(m.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);

    run.write({ input: { $case: 'stdinClose', value: true } });
    await ended;
    await unary((cb) => client.destroy({ handle: 'metrics-b' }, cb));
    m = await scrape(arbord);
    expect(value(m, 'arbor_rpc_duration_seconds_count', { method: 'Run' })).toBe(1);
    expect(value(m, 'arbor_streams_open', { method: 'Run' })).toBe(0);
    expect(value(m, 'arbor_processes')).toBe(0);
    expect(value(m, 'arbor_containers', { state: 'active' })).toBe(1);
    expect(value(m, 'arbor_container_pids', { handle: 'metrics-b' })).toBeUndefined();
    expect(value(m, 'arbor_container_pids', { handle: 'metrics-a' })).toBe(0);
    for (const phase of ['volume', 'containerizer', 'network']) {
      expect(value(m, 'arbor_container_phase_duration_seconds_count', { op: 'destroy', phase, outcome: 'ok' })).toBe(1);
    }
    expect(value(m, 'arbor_container_metrics_failures_total')).toBe(0);
  });

  test('a cancelled stream counts as CANCELLED and closes', async () => {
    await unary((cb) => client.create({ spec: { ...ContainerSpec.create(), handle: 'metrics-cancel' } }, cb));
    const run = client.run();
    run.on('error', () => undefined);
    const started = new Promise<void>((resolve) => run.on('data', (msg: ProcessOutput) => msg.output?.$case === 'started' && resolve()));
    run.write({ input: { $case: 'start', value: { handle: 'metrics-cancel', spec: { ...ProcessSpec.create(), path: 'cat' } } } });
    await started;
    run.cancel();
    let m = await scrape(arbord);
    for (let i = 0; i < 50 && value(m, 'arbor_streams_open', { method: 'Run' }) !== 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      m = await scrape(arbord);
    }
    expect(value(m, 'arbor_streams_open', { method: 'Run' })).toBe(0);
    expect(value(m, 'arbor_rpc_errors_total', { method: 'Run', code: 'CANCELLED' })).toBe(1);
  });
});

describe('arbord without metricsListen', () => {
  test('serves no metrics', async () => {
    const arbord = await startArbord(
      { backend: 'fake', stateDir: join(dir, 'state-off'), listen: `unix://${dir}/off.sock` },
      { logger: silentLogger, shutdownTimeoutMs: 500 },
    );
    expect(arbord.metricsAddress).toBe('');
    await arbord.stop();
  });
});

describe('ArborMetrics.instrument', () => {
  const definition = {
    fail: {
      path: '/test.T/Fail',
      requestStream: false,
      responseStream: false,
      requestSerialize: (x: unknown) => x,
      requestDeserialize: (x: unknown) => x,
      responseSerialize: (x: unknown) => x,
      responseDeserialize: (x: unknown) => x,
    },
  } as unknown as ServiceDefinition;

  test("counts helper failures found in a failed call's error, its causes and aggregated errors", async () => {
    const metrics = new ArborMetrics({ layerStoreDir: join(dir, 'none'), logger: silentLogger });
    const helperError = (name: string, helper: string) => Object.assign(new ArborError('internal', `${helper} failed`), { name, helper });
    const errors = [
      helperError('HelperError', 'arbor-exec'),
      new ArborError('internal', 'destroy h: ...', {
        cause: new AggregateError([helperError('HelperError', 'arbor-create'), helperError('HelperTimeoutError', 'arbor-tar')]),
      }),
      new ArborError('notFound', 'not a helper'),
    ];
    const fail: handleUnaryCall<unknown, unknown> = (_call, callback) => callback(toGrpcStatus(errors.shift()));
    const service = metrics.instrument(definition, { fail });
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve) => service.fail({ on: () => undefined, once: () => undefined } as never, () => resolve()));
    }
    const m = parse(await metrics.registry.metrics());
    expect(value(m, 'arbor_helper_failures_total', { helper: 'arbor-exec', reason: 'failed' })).toBe(1);
    expect(value(m, 'arbor_helper_failures_total', { helper: 'arbor-create', reason: 'failed' })).toBe(1);
    expect(value(m, 'arbor_helper_failures_total', { helper: 'arbor-tar', reason: 'timeout' })).toBe(1);
    expect(value(m, 'arbor_rpc_errors_total', { method: 'Fail', code: 'INTERNAL' })).toBe(2);
    expect(value(m, 'arbor_rpc_errors_total', { method: 'Fail', code: 'NOT_FOUND' })).toBe(1);
  });
});
