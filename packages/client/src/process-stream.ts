import { constants } from 'node:os';
import type { Writable } from 'node:stream';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { ArborError, InvalidArgumentError, ProcessNotFoundError } from '@arbor/core';
import type { Process, ProcessIO, Signal, TtySpec } from '@arbor/core';
import type { ProcessInput, ProcessOutput } from '@arbor/proto';
import { fromGrpcError } from './from-grpc-error';
import { ttyToProto } from '@arbor/proto';

/** MAX_STDIN_CHUNK bounds one stdin message. */
export const MAX_STDIN_CHUNK = 64 * 1024;

type Call = ClientDuplexStream<ProcessInput, ProcessOutput>;

export interface ProcessStreamOptions {
  /** target names the server, for error messages. */
  target: string;
  /** closeStdinWithoutInput sends stdin_close at once when io has no stdin (Run does; Attach must not close another's stdin). */
  closeStdinWithoutInput: boolean;
}

function validateSignal(signal: string): void {
  if (!Object.prototype.hasOwnProperty.call(constants.signals, signal)) {
    throw new InvalidArgumentError('signal', `'${signal}' is not a signal name like SIGTERM or SIGKILL`);
  }
}

function validateTty(tty: TtySpec): void {
  const size = tty.windowSize;
  if (!size) return;
  for (const [name, value] of [
    ['columns', size.columns],
    ['rows', size.rows],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0 || value > 65535) {
      throw new InvalidArgumentError(`tty.windowSize.${name}`, `${value} must be a whole number from 0 to 65535`);
    }
  }
}

/**
 * openProcessStream drives a Run or Attach call whose first message has been written: it
 * resolves with the Process once `started` arrives (or rejects with the server's error),
 * copies output into io's writables (pausing the call while one is full), sends io.stdin
 * as stdin messages and then stdin_close, and cancels the call when io.detach aborts.
 */
export function openProcessStream(call: Call, io: ProcessIO, options: ProcessStreamOptions): Promise<Process> {
  return new Promise<Process>((resolveStarted, rejectStarted) => {
    let id: string | undefined;
    let exitStatus: number | undefined;
    let pendingWrites = 0;
    let over = false;
    let detached = false;
    const blocked = new Set<Writable>();
    let resolveExit!: (status: number) => void;
    let rejectExit!: (err: Error) => void;
    const exited = new Promise<number>((resolve, reject) => {
      resolveExit = resolve;
      rejectExit = reject;
    });
    // the caller may never call wait(); a failure then must not crash the process
    exited.catch(() => undefined);

    const stdin = io.stdin;
    const onStdinData = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      let ok = true;
      for (let offset = 0; offset < bytes.length; offset += MAX_STDIN_CHUNK) {
        ok = call.write({ input: { $case: 'stdin', value: bytes.subarray(offset, offset + MAX_STDIN_CHUNK) } }) && ok;
      }
      if (!ok && stdin) {
        stdin.pause();
        call.once('drain', () => {
          if (!over) stdin.resume();
        });
      }
    };
    const onStdinEnd = (): void => {
      if (!over) call.write({ input: { $case: 'stdinClose', value: true } });
    };
    // a failing stdin ends the process's input, as its end would
    const onStdinError = (): void => {
      stopStdin();
      onStdinEnd();
    };
    const stopStdin = (): void => {
      if (!stdin) return;
      stdin.off('data', onStdinData);
      stdin.off('end', onStdinEnd);
      stdin.off('error', onStdinError);
      stdin.pause();
    };
    const startStdin = (): void => {
      if (!stdin) {
        if (options.closeStdinWithoutInput) call.write({ input: { $case: 'stdinClose', value: true } });
        return;
      }
      stdin.on('data', onStdinData);
      stdin.on('end', onStdinEnd);
      stdin.on('error', onStdinError);
      stdin.resume();
    };

    const finish = (): void => {
      over = true;
      stopStdin();
      io.detach?.removeEventListener('abort', onDetach);
    };
    const maybeExited = (): void => {
      if (exitStatus !== undefined && pendingWrites === 0) resolveExit(exitStatus);
    };
    const onDetach = (): void => {
      if (over) return;
      detached = true;
      finish();
      call.cancel();
    };

    const process: Process = {
      get id(): string {
        return id ?? '';
      },
      wait: () => exited,
      signal: async (signal: Signal) => {
        validateSignal(signal);
        if (over || exitStatus !== undefined) throw new ProcessNotFoundError(id ?? '');
        call.write({ input: { $case: 'signal', value: signal } });
      },
      setTty: async (tty: TtySpec) => {
        validateTty(tty);
        if (over || exitStatus !== undefined) throw new ProcessNotFoundError(id ?? '');
        call.write({ input: { $case: 'tty', value: ttyToProto(tty) } });
      },
    };

    call.on('data', (message: ProcessOutput) => {
      const output = message.output;
      switch (output?.$case) {
        case 'started':
          id = output.value;
          resolveStarted(process);
          startStdin();
          return;
        case 'stdout':
        case 'stderr': {
          const w = io[output.$case];
          if (!w || detached) return;
          pendingWrites += 1;
          const ok = w.write(output.value, () => {
            pendingWrites -= 1;
            maybeExited();
          });
          if (!ok && !blocked.has(w)) {
            blocked.add(w);
            call.pause();
            w.once('drain', () => {
              blocked.delete(w);
              if (blocked.size === 0) call.resume();
            });
          }
          return;
        }
        case 'exitStatus':
          exitStatus = output.value;
          finish();
          call.end();
          maybeExited();
          return;
      }
    });
    call.on('error', (err: Error) => {
      finish();
      let failure: Error = fromGrpcError(err, options.target);
      if (detached) {
        failure = new ArborError(
          'failedPrecondition',
          id === undefined ? 'detached before the process started' : `detached from process ${id}: it keeps running; attach again to wait for it`,
        );
      }
      if (id === undefined) rejectStarted(failure);
      else if (exitStatus === undefined) rejectExit(failure);
    });
    // 'end' comes after every buffered message was read; an OK end without exit_status is a broken stream
    call.on('end', () => {
      if (over || exitStatus !== undefined) return;
      finish();
      const err = new ArborError('internal', 'the server ended the process stream without an exit status');
      if (id === undefined) rejectStarted(err);
      else rejectExit(err);
    });

    if (io.detach?.aborted) onDetach();
    else io.detach?.addEventListener('abort', onDetach, { once: true });
  });
}
