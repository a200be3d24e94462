import type { Logger } from '@arbor/core';

/** callLogger is the per-call child logger: { rpc: 'Create', handle: 'web-1' } when the request names a handle. */
export function callLogger(logger: Logger, rpc: string, request: unknown): Logger {
  const handle = (request as { handle?: unknown } | null)?.handle;
  return logger.child(typeof handle === 'string' && handle !== '' ? { rpc, handle } : { rpc });
}
