// Raw HTTP/1.1 over node:net, byte for byte what Garden's Go client sends
// (client/connection/connection.go and connection_hijacker.go): plain calls through a
// no-keep-alive http.Client (Host "api", "Connection: close"), Run/Attach and the
// stdout/stderr attaches through httputil.ClientConn, whose socket is then read raw.
import type { Socket } from 'node:net';

/** WireTarget is a Garden front to dial: connect opens a fresh raw connection. */
export interface WireTarget {
  connect(): Promise<Socket>;
}

export interface WireResponse {
  status: number;
  /** head is the status line and headers as sent. */
  head: string;
  headers: Map<string, string>;
  body: Buffer;
  json: unknown;
}

function goRequest(method: string, path: string, body: Buffer | undefined, contentType: string | undefined, closing: boolean, chunked = false): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: api', 'User-Agent: Go-http-client/1.1'];
  if (body !== undefined && !chunked && (body.length > 0 || method !== 'GET')) lines.push(`Content-Length: ${body.length}`);
  if (chunked) lines.push('Transfer-Encoding: chunked');
  if (closing) lines.push('Connection: close');
  if (contentType) lines.push(`Content-Type: ${contentType}`);
  if (closing) lines.push('Accept-Encoding: gzip');
  const headBytes = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  if (body === undefined) return headBytes;
  if (!chunked) return Buffer.concat([headBytes, body]);
  // Go's chunked writer: one chunk per Write of the body reader, then the last chunk
  const parts: Buffer[] = [headBytes];
  for (let off = 0; off < body.length; off += 32 * 1024) {
    const piece = body.subarray(off, off + 32 * 1024);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** jsonBody is transport.WriteMessage: Go's json.Encoder, one value and a newline. */
export function jsonBody(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value)}\n`);
}

/** readAllFrom collects a socket's bytes until the peer closes. */
export function readAllFrom(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('close', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

function dechunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let off = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', off);
    if (eol === -1) throw new Error('truncated chunked body');
    const size = parseInt(body.subarray(off, eol).toString('latin1'), 16);
    if (size === 0) return Buffer.concat(out);
    out.push(body.subarray(eol + 2, eol + 2 + size));
    off = eol + 2 + size + 2;
    if (off > body.length) throw new Error('truncated chunked body');
  }
}

export function parseResponse(raw: Buffer, headOnly = false): WireResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no response head in ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const head = raw.subarray(0, end).toString('latin1');
  const [statusLine, ...headerLines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine ?? '')?.[1]);
  const headers = new Map<string, string>();
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  let body = raw.subarray(end + 4);
  if (headOnly) return { status, head, headers, body, json: undefined };
  if (headers.get('transfer-encoding') === 'chunked') body = dechunk(body);
  else if (headers.has('content-length')) body = body.subarray(0, Number(headers.get('content-length')));
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status, head, headers, body, json };
}

export interface CallOptions {
  /** body is JSON-encoded as transport.WriteMessage does, unless it is a Buffer (raw bytes). */
  body?: unknown;
  contentType?: string;
  /** chunked sends the body as Go does for a reader of unknown length (StreamIn's tar). */
  chunked?: boolean;
  /** raw replaces the whole request with these bytes. */
  raw?: Buffer;
}

/** call is one plain request on a fresh connection, as Garden's client makes it. */
export async function call(target: WireTarget, method: string, path: string, options: CallOptions = {}): Promise<WireResponse> {
  const socket = await target.connect();
  const body = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : jsonBody(options.body);
  const contentType = options.contentType ?? (body !== undefined ? 'application/json' : undefined);
  const collected = readAllFrom(socket);
  socket.write(options.raw ?? goRequest(method, path, body, contentType, true, options.chunked));
  return parseResponse(await collected);
}

/** LineReader reads a hijacked connection: its response head, then raw bytes or JSON lines. */
export class LineReader {
  private buf = Buffer.alloc(0);
  private ended = false;
  private waiters: (() => void)[] = [];
  /** endedAt is when the peer closed, by process.hrtime, for ordering checks. */
  endedAt: bigint | undefined;

  constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.wake();
    });
    const fin = (): void => {
      if (!this.ended) this.endedAt = process.hrtime.bigint();
      this.ended = true;
      this.wake();
    };
    socket.on('end', fin);
    socket.on('close', fin);
    socket.on('error', fin);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private more(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async until(delimiter: string): Promise<Buffer | null> {
    for (;;) {
      const at = this.buf.indexOf(delimiter);
      if (at !== -1) {
        const out = this.buf.subarray(0, at + delimiter.length);
        this.buf = this.buf.subarray(at + delimiter.length);
        return out;
      }
      if (this.ended) return null;
      await this.more();
    }
  }

  /** head reads the response head (status line and headers). */
  async head(): Promise<WireResponse> {
    const raw = await this.until('\r\n\r\n');
    if (raw === null) throw new Error('connection closed before a response head');
    return parseResponse(raw, true);
  }

  /** line reads one JSON line; null at the end of the stream. */
  async line(): Promise<Record<string, unknown> | null> {
    const raw = await this.until('\n');
    return raw === null ? null : (JSON.parse(raw.toString('utf8')) as Record<string, unknown>);
  }

  /** rest waits for the end of the stream and returns what was not read yet. */
  async rest(): Promise<Buffer> {
    while (!this.ended) await this.more();
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }

  /** errorBody reads the rest of a non-2xx hijack answer as Garden's error JSON. */
  async errorBody(response: WireResponse): Promise<Record<string, unknown>> {
    const n = Number(response.headers.get('content-length') ?? '0');
    while (this.buf.length < n && !this.ended) await this.more();
    return JSON.parse(this.buf.subarray(0, n).toString('utf8')) as Record<string, unknown>;
  }
}

/** ProcessConn is a Run or Attach main connection after its head. */
export interface ProcessConn {
  response: WireResponse;
  reader: LineReader;
  /** first is {process_id, stream_id}, or the error JSON for a non-2xx answer. */
  first: Record<string, unknown>;
  send(payload: unknown): void;
}

async function hijack(target: WireTarget, request: Buffer): Promise<ProcessConn> {
  const socket = await target.connect();
  const reader = new LineReader(socket);
  socket.write(request);
  const response = await reader.head();
  const first = response.status >= 200 && response.status < 300 ? ((await reader.line()) ?? {}) : await reader.errorBody(response);
  return { response, reader, first, send: (payload) => socket.write(jsonBody(payload)) };
}

/** run is connection.Run: POST the ProcessSpec through httputil.ClientConn and keep the socket. */
export function run(target: WireTarget, handle: string, spec: unknown): Promise<ProcessConn> {
  return hijack(target, goRequest('POST', `/containers/${encodeURIComponent(handle)}/processes`, jsonBody(spec), 'application/json', false));
}

/** attach is connection.Attach: GET with an empty body and no content type. */
export function attach(target: WireTarget, handle: string, processId: string): Promise<ProcessConn> {
  return hijack(
    target,
    goRequest('GET', `/containers/${encodeURIComponent(handle)}/processes/${encodeURIComponent(processId)}`, Buffer.alloc(0), undefined, false),
  );
}

/** attachOutput opens the stdout or stderr connection of a stream, as the client does after the first line. */
export async function attachOutput(
  target: WireTarget,
  handle: string,
  processId: string,
  streamId: string,
  which: 'stdout' | 'stderr',
): Promise<{ response: WireResponse; reader: LineReader }> {
  const socket = await target.connect();
  const reader = new LineReader(socket);
  const path = `/containers/${encodeURIComponent(handle)}/processes/${encodeURIComponent(processId)}/attaches/${encodeURIComponent(streamId)}/${which}`;
  socket.write(goRequest('GET', path, undefined, 'application/json', false));
  return { response: await reader.head(), reader };
}

export interface ProcessResult {
  exit: Record<string, unknown> | null;
  stdout: string;
  stderr: string;
  /**
   * outputEndedFirst says both output connections had ended when the exit status was
   * handled (allowing 100 ms: the client's events on different sockets have no order).
   */
  outputEndedFirst: boolean;
}

/**
 * runToEnd is what a Go client's Run + Wait does: Run, attach stdout and stderr, send stdin
 * (data then close), read until the exit status.
 */
export async function runToEnd(target: WireTarget, handle: string, spec: unknown, stdin?: string): Promise<ProcessResult> {
  const conn = await run(target, handle, spec);
  if (conn.response.status !== 201) throw new Error(`Run answered ${conn.response.status}: ${JSON.stringify(conn.first)}`);
  return finishProcess(target, handle, conn, stdin);
}

export async function finishProcess(target: WireTarget, handle: string, conn: ProcessConn, stdin?: string): Promise<ProcessResult> {
  const pid = String(conn.first['process_id']);
  const sid = String(conn.first['stream_id']);
  const out = await attachOutput(target, handle, pid, sid, 'stdout');
  const err = await attachOutput(target, handle, pid, sid, 'stderr');
  if (stdin !== undefined) {
    if (stdin !== '') conn.send({ process_id: pid, source: 0, data: stdin });
    conn.send({ process_id: pid, source: 0 });
  }
  const stdoutP = out.reader.rest();
  const stderrP = err.reader.rest();
  let exit: Record<string, unknown> | null = null;
  let outputEndedFirst = false;
  for (;;) {
    const line = await conn.reader.line();
    if (line === null) break;
    if ('exit_status' in line || 'error' in line) {
      const exitAt = process.hrtime.bigint();
      await new Promise((r) => setTimeout(r, 100));
      const endedBy = (at: bigint | undefined): boolean => at !== undefined && at <= exitAt + 100_000_000n;
      outputEndedFirst = endedBy(out.reader.endedAt) && endedBy(err.reader.endedAt);
      exit = line;
      break;
    }
  }
  const [stdout, stderr] = await Promise.all([stdoutP, stderrP]);
  conn.reader.socket.destroy();
  return { exit, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8'), outputEndedFirst };
}
