import { randomBytes } from 'node:crypto';
import type { Logger } from '@arbor/core';

// lastRequestId starts at random, so that two arbords' (or one arbord's restarts') logs rarely share ids
let lastRequestId = randomBytes(4).readUInt32BE(0);

/**
 * nextRequestId is like '5f0c9a1e': a 32-bit counter, not a random draw per call, whose
 * crypto call cost more than the rest of a Ping's handling; ids repeat after 2^32 calls.
 */
function nextRequestId(): string {
  lastRequestId = (lastRequestId + 1) >>> 0;
  return lastRequestId.toString(16).padStart(8, '0');
}

/**
 * callLogger is the per-call child logger: { rpc: 'Create', requestId: '5f0c9a1e', handle:
 * 'web-1' }, handle when the request names one. requestId tells apart the log lines of
 * concurrent calls on one handle, the ports' included (the logger reaches them as the call's
 * CallContext).
 */
export function callLogger(logger: Logger, rpc: string, request: unknown): Logger {
  const handle = (request as { handle?: unknown } | null)?.handle;
  const requestId = nextRequestId();
  return logger.child(typeof handle === 'string' && handle !== '' ? { rpc, requestId, handle } : { rpc, requestId });
}
