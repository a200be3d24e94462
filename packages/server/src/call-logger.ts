import { randomBytes } from 'node:crypto';
import type { Logger } from '@arbor/core';

/**
 * callLogger is the per-call child logger: { rpc: 'Create', requestId: '5f0c9a1e', handle:
 * 'web-1' }, handle when the request names one. requestId tells apart the log lines of
 * concurrent calls on one handle, the ports' included (the logger reaches them as the call's
 * CallContext).
 */
export function callLogger(logger: Logger, rpc: string, request: unknown): Logger {
  const handle = (request as { handle?: unknown } | null)?.handle;
  const requestId = randomBytes(4).toString('hex');
  return logger.child(typeof handle === 'string' && handle !== '' ? { rpc, requestId, handle } : { rpc, requestId });
}
