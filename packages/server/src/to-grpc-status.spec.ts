import { status } from '@grpc/grpc-js';
import {
  ArborError,
  ContainerNotFoundError,
  ContainerStoppedError,
  HandleAlreadyExistsError,
  HostPreconditionError,
  InvalidArgumentError,
  MAX_ECHO,
  PermissionDeniedError,
  PropertyNotFoundError,
  ResourceExhaustedError,
  ServiceUnavailableError,
  UnrecoverableError,
} from '@arbor/core';
import type { Logger } from '@arbor/core';
import { ErrorDetail } from '@arbor/proto';
import { ERROR_METADATA_KEY, toGrpcStatus } from './to-grpc-status';

function recordingLogger(): Logger & { events: Array<{ level: string; event: string; data?: Record<string, unknown> }> } {
  const events: Array<{ level: string; event: string; data?: Record<string, unknown> }> = [];
  const logger = {
    events,
    debug: (event: string, data?: Record<string, unknown>) => events.push({ level: 'debug', event, ...(data && { data }) }),
    info: (event: string, data?: Record<string, unknown>) => events.push({ level: 'info', event, ...(data && { data }) }),
    error: (event: string, data?: Record<string, unknown>) => events.push({ level: 'error', event, ...(data && { data }) }),
    child: () => logger,
  };
  return logger;
}

function detailOf(s: ReturnType<typeof toGrpcStatus>): ErrorDetail {
  const [value] = s.metadata.get(ERROR_METADATA_KEY);
  if (!Buffer.isBuffer(value)) throw new Error('no binary arbor-error-bin trailer');
  return ErrorDetail.decode(value);
}

describe('toGrpcStatus', () => {
  test.each<[ArborError, status]>([
    [new ContainerNotFoundError('web-1'), status.NOT_FOUND],
    [new HandleAlreadyExistsError('web-1'), status.ALREADY_EXISTS],
    [new InvalidArgumentError('limits.pid.max', 'must be a whole number'), status.INVALID_ARGUMENT],
    [new ResourceExhaustedError('containers', 'max containers reached'), status.RESOURCE_EXHAUSTED],
    [new ContainerStoppedError('web-1'), status.FAILED_PRECONDITION],
    [new HostPreconditionError('volumizer: mkfs.btrfs not found: install btrfs-progs'), status.FAILED_PRECONDITION],
    [new PermissionDeniedError('no'), status.PERMISSION_DENIED],
    [new ServiceUnavailableError('later'), status.UNAVAILABLE],
    [new UnrecoverableError('sick'), status.INTERNAL],
  ])('%s -> code %i, with the error detail in the trailer', (err, code) => {
    const s = toGrpcStatus(err);
    expect(s.code).toBe(code);
    expect(s.details).toBe(err.message);
    expect(detailOf(s)).toEqual({ name: err.name, kind: err.kind, message: err.message, fields: err.fields() });
  });

  test('fields travel in the detail', () => {
    expect(detailOf(toGrpcStatus(new ContainerNotFoundError('web-1'))).fields).toEqual({ handle: 'web-1' });
  });

  test('anything that is not an ArborError is INTERNAL and logged once, at error level', () => {
    const log = recordingLogger();
    const s = toGrpcStatus(new TypeError('undefined is not a function'), log);
    expect(s.code).toBe(status.INTERNAL);
    expect(s.details).toContain('undefined is not a function');
    expect(detailOf(s)).toMatchObject({ kind: 'internal', message: 'undefined is not a function' });
    expect(log.events).toHaveLength(1);
    expect(log.events[0]).toMatchObject({ level: 'error', event: 'unexpected-error' });
  });

  test('keeps details and trailer within what a gRPC client accepts (8 KiB of metadata) for a 100 KB input', () => {
    const s = toGrpcStatus(new PropertyNotFoundError('web-1', 'k'.repeat(100 * 1024)));
    expect(s.code).toBe(status.NOT_FOUND);
    expect(s.details.length).toBeLessThanOrEqual(MAX_ECHO);
    const [trailer] = s.metadata.get(ERROR_METADATA_KEY);
    expect(Buffer.byteLength(trailer as Buffer)).toBeLessThan(4 * 1024);
    expect(detailOf(s).fields['property']).toHaveLength(MAX_ECHO);
  });

  test("a caller's mistake is logged at debug level only", () => {
    const log = recordingLogger();
    toGrpcStatus(new ContainerNotFoundError('web-1'), log);
    expect(log.events.map((e) => e.level)).toEqual(['debug']);
  });

  test('what the host lacks is FAILED_PRECONDITION, logged at error level for the operator', () => {
    const log = recordingLogger();
    const s = toGrpcStatus(new HostPreconditionError('network: iptables-save not found: install iptables'), log);
    expect(s.code).toBe(status.FAILED_PRECONDITION);
    expect(log.events).toEqual([expect.objectContaining({ level: 'error', event: 'call-failed' })]);
  });
});
