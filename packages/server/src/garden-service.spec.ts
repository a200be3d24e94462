import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { Backend, CallContext, Container } from '@arbor/core';
import { ContainerSpec } from '@arbor/proto';
import { RecordingLogger } from '@arbor/testkit';
import { createGardenService } from './garden-service';

/** invoke calls one unary handler as grpc-js would and resolves with its answer. */
function invoke(handler: unknown, request: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const callback: sendUnaryData<unknown> = (err, value) => (err ? reject(err) : resolve(value));
    (handler as (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => void)({ request } as ServerUnaryCall<unknown, unknown>, callback);
  });
}

describe('createGardenService', () => {
  /** setup is a backend that has each call log 'backend-step' through the CallContext it was given. */
  const setup = () => {
    const logger = new RecordingLogger();
    const step = (ctx: CallContext | undefined) => ctx?.logger.info('backend-step');
    const container = { handle: 'web-1', stop: jest.fn(async () => undefined) } as unknown as Container;
    const backend = {
      create: jest.fn(async (_spec: unknown, ctx?: CallContext) => (step(ctx), container)),
      destroy: jest.fn(async (_handle: string, ctx?: CallContext) => void step(ctx)),
      lookup: jest.fn(async (_handle: string, ctx?: CallContext) => (step(ctx), container)),
      bulkInfo: jest.fn(async (_handles: string[], ctx?: CallContext) => (step(ctx), {})),
    } as unknown as Backend;
    return { logger, backend, service: createGardenService(backend, logger) };
  };
  const stepsOf = (logger: RecordingLogger) => logger.lines.filter((l) => l['event'] === 'backend-step');

  it.each([
    ['Create', 'create', { spec: { ...ContainerSpec.create(), handle: 'web-1' } }, undefined],
    ['Destroy', 'destroy', { handle: 'web-1' }, 'web-1'],
    ['Stop', 'stop', { handle: 'web-1', kill: false }, 'web-1'],
    ['BulkInfo', 'bulkInfo', { handles: ['web-1'] }, undefined],
  ] as const)("%s hands the backend the call's logger, which names the rpc and its requestId", async (rpc, method, request, handle) => {
    const { logger, backend, service } = setup();
    await invoke(service[method], request);
    const [line] = stepsOf(logger);
    expect(line).toEqual({ event: 'backend-step', rpc, requestId: expect.stringMatching(/^[0-9a-f]{8}$/), ...(handle && { handle }) });
    expect(jest.mocked(backend[method === 'stop' ? 'lookup' : method])).toHaveBeenCalledTimes(1);
  });

  it('gives concurrent calls distinct requestIds', async () => {
    const { logger, service } = setup();
    await Promise.all([invoke(service.stop, { handle: 'web-1', kill: false }), invoke(service.stop, { handle: 'web-1', kill: true })]);
    const ids = stepsOf(logger).map((l) => l['requestId']);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
  });
});
