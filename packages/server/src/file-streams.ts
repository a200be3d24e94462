import { once } from 'node:events';
import { Readable } from 'node:stream';
import type { handleClientStreamingCall, handleServerStreamingCall } from '@grpc/grpc-js';
import { InvalidArgumentError } from '@arbor/core';
import type { Backend, Logger } from '@arbor/core';
import type { StreamInRequest, StreamInResponse, StreamOutRequest, StreamOutResponse } from '@arbor/proto';
import { callLogger } from './call-logger';
import { toGrpcStatus } from './to-grpc-status';
import { decoded } from './undecodable-message';

/** MAX_TAR_CHUNK bounds one StreamOut message. */
export const MAX_TAR_CHUNK = 64 * 1024;

/**
 * streamInHandler serves StreamIn: the header names the container, then the tar bytes flow
 * into container.streamIn as a Readable; the call is paused while that Readable is full.
 */
export function streamInHandler(backend: Backend, logger: Logger): handleClientStreamingCall<StreamInRequest, StreamInResponse> {
  return (call, callback) => {
    let log = logger.child({ rpc: 'StreamIn' });
    let replied = false;
    const tar = new Readable({ read: () => call.resume() });
    // the backend hears of a failure through its own reading; this listener keeps an
    // unread failure (after the backend gave up) from crashing the daemon
    tar.on('error', (err) => log.debug('stream-in-aborted', { error: err.message }));
    const reply = (err?: unknown): void => {
      if (replied) return;
      replied = true;
      // the call is over: what the client still sends goes nowhere, never into a buffer
      if (!tar.destroyed) tar.destroy();
      call.resume();
      if (err === undefined) callback(null, {});
      else callback(toGrpcStatus(err, log));
    };
    let started = false;

    call.on('data', (message: StreamInRequest) => {
      if (replied) return;
      try {
        const part = decoded(message).part;
        if (!started) {
          if (part?.$case !== 'header') throw new InvalidArgumentError('header', 'the first message of StreamIn must be the header');
          started = true;
          const { handle, path, user } = part.value;
          log = callLogger(logger, 'StreamIn', { handle });
          backend
            .lookup(handle, { logger: log })
            .then((container) => container.streamIn({ path, ...(user && { user }), tar }))
            .then(() => reply(), reply);
          return;
        }
        if (part?.$case !== 'tar') throw new InvalidArgumentError('tar', 'only tar bytes may follow the header');
        if (!tar.push(part.value)) call.pause();
      } catch (err) {
        tar.destroy(err instanceof Error ? err : new Error(String(err)));
        reply(err);
      }
    });
    call.on('end', () => {
      if (!started) reply(new InvalidArgumentError('header', 'the call ended before the header'));
      else if (!replied) tar.push(null);
    });
    // a broken call fails the stream the backend reads, which ends its tar
    call.on('error', (err: Error) => {
      tar.destroy(err);
      reply(err);
    });
    call.on('cancelled', () => {
      replied = true;
      tar.destroy(new Error('the client cancelled StreamIn'));
    });
  };
}

/** streamOutHandler serves StreamOut: the backend's tar Readable, in messages of at most 64 KiB. */
export function streamOutHandler(backend: Backend, logger: Logger): handleServerStreamingCall<StreamOutRequest, StreamOutResponse> {
  return (call) => {
    const log = callLogger(logger, 'StreamOut', call.request);
    const cancelled = new AbortController();
    call.on('cancelled', () => cancelled.abort());
    const serve = async (): Promise<void> => {
      const { handle, path, user } = decoded(call.request);
      const tar = await (await backend.lookup(handle, { logger: log })).streamOut({ path, ...(user && { user }) });
      // destroying the tar ends the backend's tar process: on a cancel, and whenever serve stops early
      const stop = (): void => {
        tar.destroy();
      };
      if (cancelled.signal.aborted) return stop();
      cancelled.signal.addEventListener('abort', stop, { once: true });
      try {
        for await (const chunk of tar as AsyncIterable<Buffer | string>) {
          const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          for (let offset = 0; offset < bytes.length; offset += MAX_TAR_CHUNK) {
            if (!call.write({ tar: bytes.subarray(offset, offset + MAX_TAR_CHUNK) })) {
              await once(call, 'drain', { signal: cancelled.signal });
            }
          }
        }
      } finally {
        cancelled.signal.removeEventListener('abort', stop);
        stop();
      }
      call.end();
    };
    serve().catch((err: unknown) => {
      if (!cancelled.signal.aborted) call.emit('error', toGrpcStatus(err, log));
    });
  };
}
