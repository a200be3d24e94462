import * as http from 'node:http';
import * as https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { ArborError, PermissionDeniedError } from '@arbor/core';

export interface RegistryLocation {
  /** host is like '127.0.0.1:5000' or 'registry-1.docker.io'. */
  host: string;
  /** repository is like 'arbor/app'. */
  repository: string;
  /** insecure means plain http (loopback registries); otherwise https. */
  insecure: boolean;
}

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface RegistryResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: IncomingMessage;
}

/** RegistryClientOptions tune a client; the defaults suit public registries. */
export interface RegistryClientOptions {
  /** ca are PEM certificates to trust beside the system's (a private registry's CA, or a test's). */
  ca?: string | Buffer;
}

const MAX_REDIRECTS = 5;
const TIMEOUT_MS = 60_000;
// MAX_DETAIL bounds how much of a registry's error body goes into a message.
const MAX_DETAIL = 512;
// TOKEN_HOSTS are token services on another host that a registry's credentials may go to:
// Docker Hub's registry sends its clients to auth.docker.io.
const TOKEN_HOSTS: Readonly<Record<string, readonly string[]>> = { 'registry-1.docker.io': ['auth.docker.io'] };

// One keep-alive agent per scheme: layer pulls reuse connections.
const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 8 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 8 }),
};

/**
 * RegistryClient speaks the Distribution API v2 to one repository: it answers 401s with
 * the challenge the registry sends (a Bearer token from its realm, or Basic), follows
 * redirects (blob storage often lives elsewhere) and hands out response bodies as streams.
 *
 * Credentials (the username and password, and the token they buy) go only to the
 * registry's own host over https, or over http to a loopback registry's own host:port.
 * A token realm elsewhere gets an anonymous request; a realm over http is refused (but
 * for a loopback registry's own); a redirect to another host or to http loses the
 * Authorization header. A registry thus cannot send its client's password elsewhere.
 */
export class RegistryClient {
  private authorization: string | undefined;
  private readonly httpsAgent: https.Agent;

  constructor(
    private readonly location: RegistryLocation,
    private readonly credentials?: RegistryCredentials,
    options: RegistryClientOptions = {},
  ) {
    this.httpsAgent = options.ca === undefined ? agents.https : new https.Agent({ keepAlive: true, maxSockets: 8, ca: options.ca });
  }

  /** name is like 'docker://127.0.0.1:5000/arbor/app', for messages. */
  get name(): string {
    return `docker://${this.location.host}/${this.location.repository}`;
  }

  /**
   * get fetches /v2/<repository>/<path> and returns a 2xx response; bodies of other
   * answers become errors that say what the registry said.
   * @throws ArborError('notFound') on 404, PermissionDeniedError when auth fails.
   */
  async get(path: string, accept?: string): Promise<RegistryResponse> {
    const url = new URL(`${this.origin}/v2/${this.location.repository}/${path}`);
    let response = await this.follow(url, accept);
    if (response.status === 401) {
      const challenge = response.headers['www-authenticate'];
      await drain(response.body);
      this.authorization = await this.authorize(typeof challenge === 'string' ? challenge : '');
      response = await this.follow(url, accept);
    }
    if (response.status >= 200 && response.status < 300) return response;
    const what = `${this.name}: GET ${path}`;
    const body = await readSmall(response.body, 64 * 1024, what).catch(() => Buffer.alloc(0));
    const text = body.toString('utf8').trim();
    const detail = text.length > MAX_DETAIL ? `${text.slice(0, MAX_DETAIL)}...` : text;
    if (response.status === 404) throw new ArborError('notFound', `image: ${what}: not found${detail ? ` (${detail})` : ''}`);
    if (response.status === 401 || response.status === 403) {
      throw new PermissionDeniedError(`image: ${what}: access denied (${response.status}); check the image username and password`);
    }
    throw new ArborError('unavailable', `image: ${what}: registry answered ${response.status}${detail ? `: ${detail}` : ''}`);
  }

  /**
   * getSmall fetches a body (a manifest or a config) whole, refusing it once it passes
   * limit bytes: it is never read further into memory.
   * @throws ArborError('invalidArgument') when the body is longer than limit.
   */
  async getSmall(path: string, limit: number, accept?: string): Promise<{ bytes: Buffer; headers: http.IncomingHttpHeaders }> {
    const response = await this.get(path, accept);
    const bytes = await readSmall(response.body, limit, `${this.name}: GET ${path}`);
    return { bytes, headers: response.headers };
  }

  /** openBlob streams a blob; the caller verifies its digest. */
  async openBlob(digest: string): Promise<Readable> {
    return (await this.get(`blobs/${digest}`)).body;
  }

  /** origin is where the registry answers, like 'https://ghcr.io' or 'http://127.0.0.1:5000'. */
  private get origin(): string {
    return `${this.location.insecure ? 'http' : 'https'}://${this.location.host}`;
  }

  /**
   * mayCarryCredentials says whether url is the registry itself as reached safely: its
   * host over https, or (for a loopback registry, which is spoken to over http) its exact
   * origin. Like https://ghcr.io/token for ghcr.io, not http://ghcr.io/ or https://cdn.example/.
   */
  private mayCarryCredentials(url: URL, extraHosts: readonly string[] = []): boolean {
    const registry = new URL(this.origin);
    if (url.protocol === 'https:') return url.hostname === registry.hostname || extraHosts.includes(url.host);
    return this.location.insecure && url.protocol === 'http:' && url.host === registry.host;
  }

  private async follow(first: URL, accept: string | undefined): Promise<RegistryResponse> {
    let url = first;
    let withAuth = true;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop += 1) {
      // Credentials go only to the registry itself, not to the storage it redirects to, and
      // never back once a redirect has left.
      withAuth = withAuth && this.mayCarryCredentials(url);
      const headers: http.OutgoingHttpHeaders = {};
      if (accept !== undefined) headers.accept = accept;
      if (withAuth && this.authorization !== undefined) headers.authorization = this.authorization;
      const response = await send(url, headers, this.httpsAgent);
      const location = response.headers.location;
      if (response.status >= 300 && response.status < 400 && typeof location === 'string') {
        await drain(response.body);
        url = parseUrl(location, url, `${this.name}: redirect`);
        continue;
      }
      return response;
    }
    throw new ArborError('unavailable', `image: ${this.name}: more than ${MAX_REDIRECTS} redirects`);
  }

  /** authorize answers a WWW-Authenticate challenge with an Authorization header value. */
  private async authorize(challenge: string): Promise<string> {
    const scheme = challenge.split(' ', 1)[0]?.toLowerCase() ?? '';
    if (scheme === 'basic') {
      if (this.credentials === undefined) {
        throw new PermissionDeniedError(`image: ${this.name} needs a username and password (Basic auth)`);
      }
      return `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
    }
    if (scheme !== 'bearer') {
      throw new PermissionDeniedError(`image: ${this.name} asks for unsupported authentication '${challenge}'`);
    }
    const params = parseChallenge(challenge.slice(challenge.indexOf(' ') + 1));
    const realm = params.realm;
    if (realm === undefined) throw new PermissionDeniedError(`image: ${this.name}: Bearer challenge without a realm`);
    const tokenUrl = parseUrl(realm, undefined, `${this.name}: token realm`);
    // A token bought over http can be read or forged on the way: only a loopback registry's own realm may be http.
    if (tokenUrl.protocol !== 'https:' && !(tokenUrl.protocol === 'http:' && this.mayCarryCredentials(tokenUrl))) {
      throw new PermissionDeniedError(`image: ${this.name}: refusing the token realm ${quote(tokenUrl.origin)}: it is not https`);
    }
    if (params.service !== undefined) tokenUrl.searchParams.set('service', params.service);
    tokenUrl.searchParams.set('scope', params.scope ?? `repository:${this.location.repository}:pull`);
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
    // A realm on another host gets an anonymous request: enough for public images.
    const withCredentials = this.credentials !== undefined && this.mayCarryCredentials(tokenUrl, TOKEN_HOSTS[this.location.host]);
    if (withCredentials && this.credentials !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
    }
    const withheld =
      this.credentials !== undefined && !withCredentials
        ? ` (the username and password were not sent to ${tokenUrl.host}, which is not the registry's host)`
        : '';
    const response = await send(tokenUrl, headers, this.httpsAgent);
    const body = await readSmall(response.body, 1024 * 1024, `${this.name}: token service ${tokenUrl.origin}`);
    if (response.status !== 200) {
      throw new PermissionDeniedError(
        `image: ${this.name}: token service ${quote(tokenUrl.origin)} refused (${response.status}); check the image username and password${withheld}`,
      );
    }
    let parsed: { token?: unknown; access_token?: unknown } | null;
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      parsed = null;
    }
    const token = typeof parsed?.token === 'string' ? parsed.token : parsed?.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new PermissionDeniedError(`image: ${this.name}: token service ${tokenUrl.origin} sent no token`);
    }
    return `Bearer ${token}`;
  }
}

/** parseChallenge reads 'realm="https://auth/token",service="registry",scope="repository:a:pull"'. */
export function parseChallenge(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  const pattern = /([A-Za-z]+)=(?:"([^"]*)"|([^,\s]*))/g;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    const key = match[1];
    if (key !== undefined) params[key.toLowerCase()] = match[2] ?? match[3] ?? '';
  }
  return params;
}

/** parseUrl reads a URL a registry sent (a realm, a redirect); what names it for the message. */
function parseUrl(text: string, base: URL | undefined, what: string): URL {
  try {
    return new URL(text, base);
  } catch {
    throw new ArborError('unavailable', `image: ${what} ${quote(text)} is not a URL`);
  }
}

/** quote shows a registry-sent string in a message: JSON-quoted, at most 100 characters. */
function quote(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}...` : text);
}

function send(url: URL, headers: http.OutgoingHttpHeaders, httpsAgent: https.Agent): Promise<RegistryResponse> {
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') {
    return Promise.reject(new ArborError('invalidArgument', `image: unsupported URL scheme in ${url.href}`));
  }
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request(
      url,
      { method: 'GET', headers: { 'user-agent': 'arbor', ...headers }, agent: secure ? httpsAgent : agents.http, timeout: TIMEOUT_MS },
      (response) => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: response }),
    );
    request.on('timeout', () => request.destroy(new ArborError('unavailable', `image: ${url.host} did not answer in ${TIMEOUT_MS} ms`)));
    request.on('error', (err) =>
      reject(ArborError.is(err) ? err : new ArborError('unavailable', `image: cannot reach ${url.host}: ${err.message}`, { cause: err })),
    );
    request.end();
  });
}

async function drain(body: IncomingMessage): Promise<void> {
  body.resume();
  await new Promise<void>((resolve) => {
    if (body.complete || body.destroyed) resolve();
    body.on('end', resolve);
    body.on('close', resolve);
    body.on('error', () => resolve());
  });
}

/** readSmall reads a body whole, up to limit bytes; what names it, like 'docker://h/app: GET manifests/v1'. */
async function readSmall(body: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += (chunk as Buffer).length;
    if (length > limit) {
      body.destroy();
      throw new ArborError('invalidArgument', `image: ${what}: the answer is larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
