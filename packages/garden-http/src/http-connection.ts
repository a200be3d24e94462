import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';

/** MAX_HEAD_BYTES bounds a request line plus its headers, like Go's DefaultMaxHeaderBytes (1 MiB) but tighter. */
export const MAX_HEAD_BYTES = 64 * 1024;

/** READ_HIGH_WATER is how many unread bytes a connection buffers before it stops reading the socket. */
const READ_HIGH_WATER = 256 * 1024;

/**
 * HttpError is a failure of the HTTP layer itself (a malformed head, a body too large), with
 * the status it is answered with, like 413.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/**
 * ByteReader reads a socket on demand: it buffers at most READ_HIGH_WATER unread bytes and
 * pauses the socket beyond that, so a client that sends faster than the process reads its
 * stdin (or the backend extracts its tar) is slowed down, not buffered without bound.
 */
export class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  private waiter: (() => void) | undefined;

  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      if (this.buf.length >= READ_HIGH_WATER) socket.pause();
      this.wake();
    });
    const finish = (): void => {
      this.done = true;
      this.wake();
    };
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', finish);
  }

  /** ended says the peer will send no more bytes and every buffered one was read. */
  get ended(): boolean {
    return this.done && this.buf.length === 0;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** fill waits for more bytes; false once the peer has finished sending. */
  private async fill(): Promise<boolean> {
    if (this.done) return false;
    this.socket.resume();
    await new Promise<void>((resolve) => (this.waiter = resolve));
    return true;
  }

  private take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /**
   * readUntil returns the bytes up to and including delimiter; null when the peer ended
   * before sending any byte of it. @throws HttpError when more than max bytes come first
   */
  async readUntil(delimiter: string, max: number, tooLong: () => HttpError): Promise<Buffer | null> {
    let from = 0;
    for (;;) {
      const at = this.buf.indexOf(delimiter, from);
      if (at !== -1) {
        if (at + delimiter.length > max) throw tooLong();
        return this.take(at + delimiter.length);
      }
      if (this.buf.length > max) throw tooLong();
      from = Math.max(0, this.buf.length - delimiter.length + 1);
      if (!(await this.fill())) {
        if (this.buf.length === 0) return null;
        throw new HttpError(400, 'the connection ended in the middle of a line');
      }
    }
  }

  /** readSome returns between 1 and max bytes, or null at the end of the stream. */
  async readSome(max: number): Promise<Buffer | null> {
    while (this.buf.length === 0) {
      if (!(await this.fill())) return null;
    }
    return this.take(Math.min(max, this.buf.length));
  }
}

/** RequestHead is a parsed request line and its headers (names in lower case). */
export interface RequestHead {
  method: string;
  /** path is the raw path, like /containers/web-1/info, still percent-encoded. */
  path: string;
  query: URLSearchParams;
  headers: Map<string, string>;
}

/** readHead reads one request head; null when the connection closed before a request began. */
export async function readHead(reader: ByteReader): Promise<RequestHead | null> {
  const raw = await reader.readUntil('\r\n\r\n', MAX_HEAD_BYTES, () => new HttpError(431, 'request head larger than 64 KiB'));
  if (raw === null) return null;
  const lines = raw.toString('latin1').slice(0, -4).split('\r\n');
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0] ?? '');
  if (!m) throw new HttpError(400, `malformed request line ${JSON.stringify((lines[0] ?? '').slice(0, 100))}`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HttpError(400, `malformed header line ${JSON.stringify(line.slice(0, 100))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    // repeated headers are joined, as RFC 9110 allows for list-valued ones
    headers.set(name, headers.has(name) ? `${headers.get(name) ?? ''}, ${value}` : value);
  }
  const target = m[2] ?? '/';
  const q = target.indexOf('?');
  return {
    method: m[1] ?? '',
    path: q === -1 ? target : target.slice(0, q),
    query: new URLSearchParams(q === -1 ? '' : target.slice(q + 1)),
    headers,
  };
}

/** MAX_CHUNK_LINE bounds a chunk-size line (size, extensions, CRLF). */
const MAX_CHUNK_LINE = 1024;

/**
 * requestBody is the request's body as a Readable that reads the socket only as it is read
 * itself (Content-Length or chunked; none for a request without either). What follows the
 * body stays in the reader: on Run and Attach, the process's input stream.
 */
export function requestBody(reader: ByteReader, head: RequestHead): Readable {
  const te = head.headers.get('transfer-encoding');
  const cl = head.headers.get('content-length');
  async function* fixed(length: number): AsyncGenerator<Buffer> {
    let left = length;
    while (left > 0) {
      const bytes = await reader.readSome(Math.min(left, 64 * 1024));
      if (bytes === null) throw new HttpError(400, `the body ended ${left} bytes short of its Content-Length`);
      left -= bytes.length;
      yield bytes;
    }
  }
  async function* chunked(): AsyncGenerator<Buffer> {
    const tooLong = (): HttpError => new HttpError(400, 'malformed chunk size line');
    for (;;) {
      const line = await reader.readUntil('\r\n', MAX_CHUNK_LINE, tooLong);
      if (line === null) throw new HttpError(400, 'the chunked body ended before its last chunk');
      const size = /^([0-9a-fA-F]{1,12})(;.*)?\r\n$/.exec(line.toString('latin1'));
      if (!size) throw tooLong();
      const length = parseInt(size[1] ?? '0', 16);
      if (length === 0) {
        // trailers, up to the empty line
        for (;;) {
          const trailer = await reader.readUntil('\r\n', MAX_HEAD_BYTES, tooLong);
          if (trailer === null || trailer.length === 2) return;
        }
      }
      yield* fixed(length);
      const crlf = await reader.readUntil('\r\n', 2, tooLong);
      if (crlf === null || crlf.length !== 2) throw tooLong();
    }
  }
  if (te !== undefined) {
    if (te.toLowerCase() !== 'chunked') throw new HttpError(501, `Transfer-Encoding ${te} is not supported`);
    return Readable.from(chunked(), { objectMode: false });
  }
  if (cl !== undefined) {
    if (!/^\d{1,15}$/.test(cl)) throw new HttpError(400, `malformed Content-Length ${JSON.stringify(cl.slice(0, 40))}`);
    return Readable.from(fixed(Number(cl)), { objectMode: false });
  }
  return Readable.from([], { objectMode: false });
}

/** readAll collects a body of at most max bytes. @throws HttpError 413 beyond max */
export async function readAll(body: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw new HttpError(413, `request body larger than ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export const STATUS_TEXT: Record<number, string> = {
  100: 'Continue',
  200: 'OK',
  201: 'Created',
  400: 'Bad Request',
  404: 'Not Found',
  413: 'Request Entity Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
};

/** head renders a status line and headers, with Go's Date format ("Thu, 03 Dec 2026 10:07:05 GMT"). */
export function head(status: number, headers: [string, string][]): string {
  const lines = [`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}`];
  for (const [name, value] of headers) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * hijackHead is what Go's net/http writes when a handler calls WriteHeader then Hijack: the
 * Transfer-Encoding header is a lie (nothing is chunked), and Garden's clients ignore it.
 */
export function hijackHead(status: 200 | 201, contentType: boolean): string {
  const headers: [string, string][] = [];
  if (contentType) headers.push(['Content-Type', 'application/json']);
  headers.push(['Date', new Date().toUTCString()], ['Transfer-Encoding', 'chunked']);
  return head(status, headers);
}

/** write writes bytes and waits for the socket to have room again (back-pressure); false once it is gone. */
export async function write(socket: Socket, bytes: Buffer | string): Promise<boolean> {
  if (socket.destroyed || socket.writableEnded) return false;
  if (socket.write(bytes)) return true;
  const closed = new AbortController();
  try {
    await Promise.race([once(socket, 'drain', { signal: closed.signal }), once(socket, 'close', { signal: closed.signal })]);
  } catch {
    return false;
  } finally {
    closed.abort();
  }
  return !socket.destroyed;
}

/** endSocket ends the socket and resolves once its last byte left (or it closed). */
export function endSocket(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.end(() => resolve());
  });
}
