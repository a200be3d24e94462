import { once } from 'node:events';
import { constants } from 'node:os';
import { PassThrough, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ServerDuplexStream, StatusObject, handleBidiStreamingCall } from '@grpc/grpc-js';
import { InvalidArgumentError } from '@arbor/core';
import type { Backend, Logger, Process, ProcessIO, Signal } from '@arbor/core';
import type { ProcessInput, ProcessOutput } from '@arbor/proto';
import { processSpecFromProto, ttyFromProto } from '@arbor/proto';
import { toGrpcStatus } from './to-grpc-status';
import { decoded } from './undecodable-message';

/** MAX_OUTPUT_CHUNK bounds one stdout/stderr message, like 64 KiB, well under gRPC's 4 MiB. */
export const MAX_OUTPUT_CHUNK = 64 * 1024;

/**
 * OUTPUT_BUFFER is how much of one stream's output a call holds before arbord stops reading the
 * process, like 256 KiB: a few chunks, so reading goes on while the call sends, where a
 * Writable's default 16 KiB stopped and restarted the reading at every 64 KiB chunk.
 */
const OUTPUT_BUFFER = 4 * MAX_OUTPUT_CHUNK;

type Call = ServerDuplexStream<ProcessInput, ProcessOutput>;

/** signalFromProto accepts POSIX signal names like 'SIGTERM'. */
export function signalFromProto(name: string): Signal {
  if (!Object.prototype.hasOwnProperty.call(constants.signals, name)) {
    throw new InvalidArgumentError('signal', `'${name}' is not a signal name like SIGTERM or SIGKILL`);
  }
  return name as Signal;
}

/**
 * OutputSink writes a process's output to the call in order: `started` first (output
 * written before it waits), then stdout/stderr, then the exit status. Its writables call
 * back only once the call has room, so a slow client slows the process; after the client
 * detaches they drop what they get.
 */
class OutputSink {
  private closed = false;
  private openGate!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.openGate = resolve));

  constructor(
    private readonly call: Call,
    private readonly detached: AbortSignal,
  ) {
    detached.addEventListener('abort', () => this.openGate(), { once: true });
  }

  writable(kind: 'stdout' | 'stderr', log: Logger): Writable {
    const w = new Writable({
      highWaterMark: OUTPUT_BUFFER,
      write: (chunk: Buffer, _encoding, callback) => {
        this.send(kind, chunk).then(() => callback(), callback);
      },
    });
    w.on('error', (err) => log.debug('output-stream-error', { stream: kind, error: err.message }));
    return w;
  }

  start(processId: string): void {
    this.call.write({ output: { $case: 'started', value: processId } });
    this.openGate();
  }

  /** finish waits for the writables to hand over every byte, then sends the exit status. */
  async finish(exitStatus: number, streams: Writable[]): Promise<void> {
    await Promise.all(
      streams.map(async (w) => {
        if (!w.writableEnded) w.end();
        await finished(w, { signal: this.detached }).catch(() => undefined);
      }),
    );
    if (this.detached.aborted || this.closed) return;
    this.closed = true;
    this.call.write({ output: { $case: 'exitStatus', value: exitStatus } });
    this.call.end();
  }

  fail(status: StatusObject): void {
    if (this.closed) return;
    this.closed = true;
    this.openGate();
    this.call.emit('error', status);
  }

  private async send(kind: 'stdout' | 'stderr', chunk: Buffer): Promise<void> {
    await this.gate;
    for (let offset = 0; offset < chunk.length; offset += MAX_OUTPUT_CHUNK) {
      if (this.detached.aborted || this.closed) return;
      const value = chunk.subarray(offset, offset + MAX_OUTPUT_CHUNK);
      if (!this.call.write({ output: { $case: kind, value } })) {
        await once(this.call, 'drain', { signal: this.detached }).catch(() => undefined);
      }
    }
  }
}

/**
 * processStreamHandler serves Run and Attach (see arbor.proto): the first message starts or
 * attaches; later ones feed stdin (with back-pressure: the call is paused while stdin is
 * full), close it, signal or resize. When the client goes away the process is detached and
 * keeps running.
 */
export function processStreamHandler(backend: Backend, logger: Logger, mode: 'run' | 'attach'): handleBidiStreamingCall<ProcessInput, ProcessOutput> {
  const rpc = mode === 'run' ? 'Run' : 'Attach';
  return (call) => {
    let log = logger.child({ rpc });
    const detach = new AbortController();
    const sink = new OutputSink(call, detach.signal);
    const stdin = new PassThrough();
    stdin.on('error', (err) => log.debug('stdin-error', { error: err.message }));
    const io: ProcessIO = {
      stdin,
      stdout: sink.writable('stdout', log),
      stderr: sink.writable('stderr', log),
      detach: detach.signal,
    };
    let process: Process | undefined;
    let state: 'first' | 'running' | 'done' = 'first';

    call.on('cancelled', () => {
      if (state === 'done') return;
      state = 'done';
      log.info('process-detached');
      detach.abort();
    });

    const fail = (err: unknown): void => {
      if (state === 'done' || detach.signal.aborted) return;
      state = 'done';
      sink.fail(toGrpcStatus(err, log));
    };

    const begin = async (message: ProcessInput): Promise<void> => {
      const input = decoded(message).input;
      if (mode === 'run') {
        if (input?.$case !== 'start') throw new InvalidArgumentError('start', 'the first message of Run must be start');
        log = logger.child({ rpc, handle: input.value.handle });
        const spec = processSpecFromProto(input.value.spec);
        process = await (await backend.lookup(input.value.handle, { logger: log })).run(spec, io);
      } else {
        if (input?.$case !== 'attach') throw new InvalidArgumentError('attach', 'the first message of Attach must be attach');
        log = logger.child({ rpc, handle: input.value.handle, processId: input.value.processId });
        process = await (await backend.lookup(input.value.handle, { logger: log })).attach(input.value.processId, io);
      }
      if (detach.signal.aborted) return;
      log = log.child({ processId: process.id });
      sink.start(process.id);
      log.info(mode === 'run' ? 'process-started' : 'process-attached');
      state = 'running';
      call.resume();
      const detached = new Promise<'detached'>((resolve) => detach.signal.addEventListener('abort', () => resolve('detached'), { once: true }));
      const exitStatus = await Promise.race([process.wait(), detached]);
      if (exitStatus === 'detached') return;
      await sink.finish(
        exitStatus,
        [io.stdout, io.stderr].filter((w): w is Writable => w !== undefined),
      );
      state = 'done';
      log.info('process-exited', { exitStatus });
    };

    const handleInput = (message: ProcessInput): void => {
      const running = process;
      if (!running) return;
      const input = decoded(message).input;
      switch (input?.$case) {
        case 'stdin':
          if (stdin.writableEnded) return;
          if (!stdin.write(input.value)) {
            call.pause();
            stdin.once('drain', () => call.resume());
          }
          return;
        case 'stdinClose':
          stdin.end();
          return;
        case 'signal':
          Promise.resolve()
            .then(() => running.signal(signalFromProto(input.value)))
            .catch((err: unknown) => log.info('signal-failed', { signal: input.value, error: String(err) }));
          return;
        case 'tty':
          running.setTty(ttyFromProto(input.value)).catch((err: unknown) => log.info('set-tty-failed', { error: String(err) }));
          return;
        default:
          throw new InvalidArgumentError('input', `unexpected ${input?.$case ?? 'empty'} message after the first one`);
      }
    };

    call.on('data', (message: ProcessInput) => {
      if (state === 'first') {
        // hold further input until the process exists to receive it
        call.pause();
        state = 'running';
        begin(message).catch(fail);
        return;
      }
      if (state !== 'running') return;
      try {
        handleInput(message);
      } catch (err) {
        fail(err);
      }
    });
    call.on('end', () => {
      if (process === undefined && state === 'first') {
        fail(new InvalidArgumentError(mode === 'run' ? 'start' : 'attach', 'the call ended before its first message'));
      }
    });
  };
}
