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

const MAX_REDIRECTS = 5;
const TIMEOUT_MS = 60_000;
// MAX_DETAIL bounds how much of a registry's error body goes into a message.
const MAX_DETAIL = 512;

// One keep-alive agent per scheme: layer pulls reuse connections.
const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 8 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 8 }),
};

/**
 * RegistryClient speaks the Distribution API v2 to one repository: it answers 401s with
 * the challenge the registry sends (a Bearer token from its realm, or Basic), follows
 * redirects (blob storage often lives elsewhere) and hands out response bodies as streams.
 */
export class RegistryClient {
  private authorization: string | undefined;

  constructor(
    private readonly location: RegistryLocation,
    private readonly credentials?: RegistryCredentials,
  ) {}

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
    const scheme = this.location.insecure ? 'http' : 'https';
    const url = new URL(`${scheme}://${this.location.host}/v2/${this.location.repository}/${path}`);
    let response = await this.follow(url, accept, true);
    if (response.status === 401) {
      const challenge = response.headers['www-authenticate'];
      await drain(response.body);
      this.authorization = await this.authorize(typeof challenge === 'string' ? challenge : '');
      response = await this.follow(url, accept, true);
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

  private async follow(first: URL, accept: string | undefined, sameOrigin: boolean): Promise<RegistryResponse> {
    let url = first;
    let withAuth = sameOrigin;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop += 1) {
      const headers: http.OutgoingHttpHeaders = {};
      if (accept !== undefined) headers.accept = accept;
      if (withAuth && this.authorization !== undefined) headers.authorization = this.authorization;
      const response = await send(url, headers);
      const location = response.headers.location;
      if (response.status >= 300 && response.status < 400 && typeof location === 'string') {
        await drain(response.body);
        const next = new URL(location, url);
        // Credentials go only to the registry itself, not to the storage it redirects to.
        withAuth = withAuth && next.host === first.host;
        url = next;
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
    const tokenUrl = new URL(realm);
    if (params.service !== undefined) tokenUrl.searchParams.set('service', params.service);
    tokenUrl.searchParams.set('scope', params.scope ?? `repository:${this.location.repository}:pull`);
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
    if (this.credentials !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
    }
    const response = await send(tokenUrl, headers);
    const body = await readSmall(response.body, 1024 * 1024, `${this.name}: token service ${tokenUrl.origin}`);
    if (response.status !== 200) {
      throw new PermissionDeniedError(`image: ${this.name}: token service ${tokenUrl.origin} refused (${response.status}); check the image username and password`);
    }
    const parsed = JSON.parse(body.toString('utf8')) as { token?: unknown; access_token?: unknown };
    const token = typeof parsed.token === 'string' ? parsed.token : parsed.access_token;
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

function send(url: URL, headers: http.OutgoingHttpHeaders): Promise<RegistryResponse> {
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') {
    return Promise.reject(new ArborError('invalidArgument', `image: unsupported URL scheme in ${url.href}`));
  }
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request(
      url,
      { method: 'GET', headers: { 'user-agent': 'arbor', ...headers }, agent: secure ? agents.https : agents.http, timeout: TIMEOUT_MS },
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
