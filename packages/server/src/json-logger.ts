import type { Logger } from '@arbor/core';
import type { LogLevel } from './arbor-config';

type EventLevel = 'debug' | 'info' | 'error';

const rank: Record<LogLevel, number> = { debug: 0, info: 1, error: 2, silent: 3 };

/** LogSink receives whole lines, like process.stdout. */
export interface LogSink {
  write(line: string): unknown;
}

export interface JsonLoggerOptions {
  level: LogLevel;
  /** sink defaults to process.stdout. */
  sink?: LogSink;
  /** now is injectable for tests. */
  now?: () => Date;
}

const newDate = (): Date => new Date();

/** plain makes a value JSON-friendly: Errors keep their name, message and stack. */
function plain(value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, ...(value.stack !== undefined && { stack: value.stack }) };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * JsonLogger writes one JSON object per line: {time, level, event, ...data}, like
 * {"time":"2025-01-01T00:00:00.000Z","level":"info","event":"create-started","handle":"web-1"}.
 */
export class JsonLogger implements Logger {
  private readonly sink: LogSink;
  private readonly now: () => Date;
  // childOptions are options with sink and clock filled in, made once and shared by every child
  private readonly childOptions: JsonLoggerOptions;

  constructor(
    private readonly options: JsonLoggerOptions,
    private readonly data: Record<string, unknown> = {},
  ) {
    this.sink = options.sink ?? process.stdout;
    this.now = options.now ?? newDate;
    this.childOptions = options.sink && options.now ? options : { ...options, sink: this.sink, now: this.now };
  }

  debug(event: string, data?: Record<string, unknown>): void {
    this.write('debug', event, data);
  }

  info(event: string, data?: Record<string, unknown>): void {
    this.write('info', event, data);
  }

  error(event: string, data?: Record<string, unknown>): void {
    this.write('error', event, data);
  }

  /** child shares this logger's options, sink and clock: the server makes one per call (callLogger), so it stays cheap. */
  child(data: Record<string, unknown>): Logger {
    return new JsonLogger(this.childOptions, { ...this.data, ...data });
  }

  private write(level: EventLevel, event: string, data: Record<string, unknown> | undefined): void {
    if (rank[level] < rank[this.options.level]) return;
    const line = { time: this.now().toISOString(), level, event, ...this.data, ...data };
    this.sink.write(`${JSON.stringify(line, (_key, value: unknown) => plain(value))}\n`);
  }
}
