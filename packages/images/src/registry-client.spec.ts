import { ArborError, PermissionDeniedError } from '@arbor/core';
import { MEDIA_TYPES } from './manifest';
import { RegistryClient, type RegistryCredentials } from './registry-client';
import { FakeRegistry, type FakeRegistryOptions } from './testing/fake-registry';
import { selfSignedCert } from '@arbor/testkit';

const CREDENTIALS: RegistryCredentials = { username: 'ci', password: 's3cret' };
const BASIC = `Basic ${Buffer.from('ci:s3cret').toString('base64')}`;

describe('RegistryClient: where credentials go', () => {
  let pem: { cert: string; key: string };
  const started: FakeRegistry[] = [];

  beforeAll(async () => {
    pem = await selfSignedCert();
  });

  afterEach(async () => {
    await Promise.all(started.splice(0).map((r) => r.stop()));
  });

  async function start(options: FakeRegistryOptions): Promise<FakeRegistry> {
    const registry = new FakeRegistry(options);
    await registry.start();
    started.push(registry);
    registry.addManifest({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: {}, layers: [] }, MEDIA_TYPES.ociManifest, ['v1']);
    return registry;
  }

  /** client speaks to registry as an image URI would: https unless it is plain http on loopback. */
  function client(registry: FakeRegistry, credentials: RegistryCredentials | undefined = CREDENTIALS): RegistryClient {
    const insecure = registry.url.startsWith('http:');
    return new RegistryClient({ host: registry.host, repository: 'arbor/app', insecure }, credentials, { ca: pem.cert });
  }

  /** authorizations are the Authorization headers registry saw on path, like '/token'. */
  function authorizations(registry: FakeRegistry, path: string | RegExp): Array<string | undefined> {
    return registry.requests.filter((r) => (typeof path === 'string' ? r.path === path : path.test(r.path))).map((r) => r.authorization);
  }

  it('sends the username and password to a token realm on the registry host over https, and the token to the registry', async () => {
    const registry = await start({ auth: 'bearer', tls: pem, ...CREDENTIALS });
    const { bytes } = await client(registry).getSmall('manifests/v1', 1024);
    expect(JSON.parse(bytes.toString('utf8'))).toMatchObject({ schemaVersion: 2 });
    expect(authorizations(registry, '/token')).toEqual([BASIC]);
    expect(authorizations(registry, /^\/v2\//)).toEqual([undefined, 'Bearer secret-token']);
  });

  it('asks a token realm on another host for an anonymous token: no username and password go there', async () => {
    const tokens = await start({ auth: 'none', tls: pem, address: '127.0.0.2', anonymousTokens: true });
    const registry = await start({ auth: 'bearer', tls: pem, ...CREDENTIALS, realm: `${tokens.url}/token` });
    await client(registry).getSmall('manifests/v1', 1024);
    expect(authorizations(tokens, '/token')).toEqual([undefined]);
    expect(authorizations(registry, /^\/v2\//)).toEqual([undefined, 'Bearer secret-token']);
  });

  it('says the credentials were withheld when such a realm wants them', async () => {
    const tokens = await start({ auth: 'none', tls: pem, address: '127.0.0.2', ...CREDENTIALS });
    const registry = await start({ auth: 'bearer', tls: pem, ...CREDENTIALS, realm: `${tokens.url}/token` });
    const err = await client(registry)
      .getSmall('manifests/v1', 1024)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect((err as Error).message).toMatch(/were not sent to 127\.0\.0\.2:\d+, which is not the registry's host/);
    expect(authorizations(tokens, '/token')).toEqual([undefined]);
  });

  it('refuses a token realm over http for a registry over https, sending it nothing', async () => {
    const tokens = await start({ auth: 'none', ...CREDENTIALS });
    const registry = await start({ auth: 'bearer', tls: pem, ...CREDENTIALS, realm: `${tokens.url}/token` });
    const err = await client(registry)
      .getSmall('manifests/v1', 1024)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect((err as Error).message).toMatch(/refusing the token realm "http:\/\/127\.0\.0\.1:\d+": it is not https/);
    expect(tokens.requests).toEqual([]);
  });

  it('refuses a token realm over http on another host than a loopback registry', async () => {
    const tokens = await start({ auth: 'none', address: '127.0.0.2', ...CREDENTIALS });
    const registry = await start({ auth: 'bearer', ...CREDENTIALS, realm: `${tokens.url}/token` });
    await expect(client(registry).getSmall('manifests/v1', 1024)).rejects.toThrow(/it is not https/);
    expect(tokens.requests).toEqual([]);
  });

  it('drops the Authorization header on a redirect from https to http, even to the same host and port', async () => {
    const registry = await start({ auth: 'basic', tls: pem, plainToo: true, ...CREDENTIALS });
    const digest = registry.addBlob(Buffer.from('layer bytes'));
    registry.redirectBlobs = `${registry.url.replace('https:', 'http:')}/blobs-cdn`;
    const body = await client(registry).openBlob(digest);
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('layer bytes');
    expect(authorizations(registry, /^\/v2\//)).toEqual([undefined, BASIC]);
    expect(authorizations(registry, /^\/blobs-cdn\//)).toEqual([undefined]);
  });

  it('drops the Authorization header on a redirect to another host', async () => {
    const storage = await start({ auth: 'none', tls: pem, address: '127.0.0.2' });
    const registry = await start({ auth: 'basic', tls: pem, ...CREDENTIALS, redirectBlobs: `${storage.url}/blobs-cdn` });
    const digest = registry.addBlob(Buffer.from('blob'));
    storage.blobs.set(digest, Buffer.from('blob'));
    await client(registry)
      .openBlob(digest)
      .then((body) => body.resume());
    expect(authorizations(storage, /^\/blobs-cdn\//)).toEqual([undefined]);
  });

  it('refuses a manifest longer than the limit without reading it whole', async () => {
    const registry = await start({ auth: 'none' });
    registry.addManifest({ schemaVersion: 2, padding: 'x'.repeat(4096) }, MEDIA_TYPES.ociManifest, ['big']);
    const err = await client(registry)
      .getSmall('manifests/big', 1024)
      .catch((e: unknown) => e);
    expect(ArborError.is(err) && err.kind).toBe('invalidArgument');
    expect((err as Error).message).toMatch(/GET manifests\/big: the answer is larger than 1024 bytes/);
  });
});
