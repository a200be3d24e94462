import { Metadata } from '@grpc/grpc-js';
import type { handleServerStreamingCall, ServerWritableStream } from '@grpc/grpc-js';
import type { Backend, Logger } from '@arbor/core';
import type * as pb from '@arbor/proto';
import { eventToProto } from '@arbor/proto';
import { callLogger } from './call-logger';
import { toGrpcStatus } from './to-grpc-status';
import { decoded } from './undecodable-message';

/** drained resolves when call can take more messages, or when the call is cancelled. */
function drained(call: ServerWritableStream<pb.EventsRequest, pb.Event>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * eventsHandler serves Events: it subscribes to backend.events, sends the response headers
 * once subscribed (clients wait for them, so they see every event after), then writes each
 * event, waiting while the client's flow control holds the call. While it waits, events
 * queue in the backend's bounded subscription; when that overflows the call ends with
 * RESOURCE_EXHAUSTED. The call ends when the client cancels or the backend stops.
 */
export function eventsHandler(backend: Backend, logger: Logger): handleServerStreamingCall<pb.EventsRequest, pb.Event> {
  return (call) => {
    const log = callLogger(logger, 'Events', call.request);
    const cancelled = new AbortController();
    call.on('cancelled', () => cancelled.abort());
    const serve = async (): Promise<void> => {
      const { handles } = decoded(call.request);
      const events = await backend.events({ handles: [...handles] }, cancelled.signal);
      log.debug('events-subscribed');
      call.sendMetadata(new Metadata());
      for await (const event of events) {
        if (!call.write(eventToProto(event))) await drained(call, cancelled.signal);
        if (cancelled.signal.aborted) break;
      }
      if (!cancelled.signal.aborted) call.end();
    };
    serve().catch((err: unknown) => {
      if (!cancelled.signal.aborted) call.emit('error', toGrpcStatus(err, log));
    });
  };
}
