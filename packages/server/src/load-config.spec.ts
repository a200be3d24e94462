import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_CONFIG, mergeConfig, netInHostPorts, parseMetricsListen, validateConfig } from './arbor-config';
import type { ArborConfigInput } from './arbor-config';
import { configFromEnv, configFromFlags, loadConfig } from './load-config';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arbor-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function yamlFile(text: string): Promise<string> {
  const path = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(path, text);
  return path;
}

describe('loadConfig', () => {
  test('defaults when nothing is given', async () => {
    const config = await loadConfig({ env: {}, configPath: await yamlFile('') });
    expect(config).toEqual(DEFAULT_CONFIG);
    expect(config.listen).toBe('unix:///run/arbor/arbord.sock');
    expect(config.portPoolStart).toBe(61001);
    expect(config.portPoolSize).toBe(4534);
    expect(config.networkPool).toBe('10.254.0.0/22');
  });

  test('file < environment < flags, field by field', async () => {
    const configPath = await yamlFile(
      ['stateDir: /from/file', 'maxContainers: 5', 'logLevel: debug', 'tls:', '  ca: /file/ca.pem', 'portPoolSize: 10'].join('\n'),
    );
    const env = { ARBOR_MAX_CONTAINERS: '7', ARBOR_LOG_LEVEL: 'error', ARBOR_DEFAULT_GRACE_TIME: '10s' };
    const flags = configFromFlags({ 'log-level': 'info', 'tls-require-client-cert': true });
    const config = await loadConfig({ configPath, env, flags });
    expect(config.stateDir).toBe('/from/file');
    expect(config.portPoolSize).toBe(10);
    expect(config.maxContainers).toBe(7);
    expect(config.defaultGraceTimeMs).toBe(10_000);
    expect(config.logLevel).toBe('info');
    expect(config.tls).toEqual({ cert: '', key: '', ca: '/file/ca.pem', insecureAnonymousClients: false, requireClientCert: true });
  });

  test('ARBOR_CONFIG names the file when --config is not given', async () => {
    const configPath = await yamlFile('backend: fromenvfile');
    const config = await loadConfig({ env: { ARBOR_CONFIG: configPath } });
    expect(config.backend).toBe('fromenvfile');
  });

  test("runc.binary is the runc backend's section; runcBinary, ARBOR_RUNC_BINARY and --runc-binary still set it", async () => {
    expect(DEFAULT_CONFIG.runc).toEqual({ binary: 'runc' });
    expect((await loadConfig({ env: {}, configPath: await yamlFile('runc:\n  binary: /opt/runc') })).runc).toEqual({ binary: '/opt/runc' });
    expect((await loadConfig({ env: {}, configPath: await yamlFile('runcBinary: /old/runc') })).runc).toEqual({ binary: '/old/runc' });
    const configPath = await yamlFile('runc:\n  binary: /from/file');
    expect((await loadConfig({ env: { ARBOR_RUNC_BINARY: '/from/env' }, configPath })).runc.binary).toBe('/from/env');
    expect(
      (await loadConfig({ env: { ARBOR_RUNC_BINARY: '/from/env' }, configPath, flags: configFromFlags({ 'runc-binary': '/from/flag' }) })).runc.binary,
    ).toBe('/from/flag');
    expect(mergeConfig({ runcBinary: '/old', runc: { binary: '/new' } }).runc.binary).toBe('/new');
    await expect(loadConfig({ env: {}, configPath: await yamlFile('runc:\n  bin: x') })).rejects.toThrow(/runc\.bin: .*unknown field/);
  });

  test('defaultPidLimit is 4096 unless set; 0 turns it off', async () => {
    expect(DEFAULT_CONFIG.defaultPidLimit).toBe(4096);
    expect((await loadConfig({ env: {}, configPath: await yamlFile('defaultPidLimit: 0') })).defaultPidLimit).toBe(0);
    expect(configFromEnv({ ARBOR_DEFAULT_PID_LIMIT: '1024' }).defaultPidLimit).toBe(1024);
    expect(configFromFlags({ 'default-pid-limit': '512' }).defaultPidLimit).toBe(512);
    expect(() => configFromFlags({ 'default-pid-limit': 'lots' })).toThrow(/defaultPidLimit: flag --default-pid-limit: "lots" must be a whole number/);
  });

  test("tag is '' (today's names) unless set in the file, ARBOR_TAG or --tag; one letter or digit is valid", async () => {
    expect(DEFAULT_CONFIG.tag).toBe('');
    expect((await loadConfig({ env: {}, configPath: await yamlFile('tag: x') })).tag).toBe('x');
    expect(configFromEnv({ ARBOR_TAG: 'y' }).tag).toBe('y');
    expect(configFromFlags({ tag: '7' }).tag).toBe('7');
    for (const tag of ['', 'x', '7']) expect(() => validateConfig(mergeConfig({ tag }), ['linux'])).not.toThrow();
    expect(() => validateConfig(mergeConfig({ tag: 'xy' }), ['linux'])).toThrow(
      "invalid config: tag: 'xy' must be empty or one lower-case letter or digit but b, v, i and t",
    );
  });

  test('imageMaxUnpackedBytes is 64 GiB unless set, and takes sizes like 64G from YAML, env and flag', async () => {
    expect(DEFAULT_CONFIG.imageMaxUnpackedBytes).toBe(64 * 1024 ** 3);
    expect((await loadConfig({ env: {}, configPath: await yamlFile('imageMaxUnpackedBytes: 8G') })).imageMaxUnpackedBytes).toBe(8 * 1024 ** 3);
    expect((await loadConfig({ env: {}, configPath: await yamlFile('imageMaxUnpackedBytes: 1048576') })).imageMaxUnpackedBytes).toBe(1024 * 1024);
    expect(configFromEnv({ ARBOR_IMAGE_MAX_UNPACKED_BYTES: '512M' }).imageMaxUnpackedBytes).toBe(512 * 1024 ** 2);
    expect(configFromFlags({ 'image-max-unpacked-bytes': '1.5GiB' }).imageMaxUnpackedBytes).toBe(1.5 * 1024 ** 3);
    expect(configFromFlags({ 'image-max-unpacked-bytes': '100k' }).imageMaxUnpackedBytes).toBe(100 * 1024);
    expect(() => configFromFlags({ 'image-max-unpacked-bytes': 'huge' })).toThrow(
      /imageMaxUnpackedBytes: flag --image-max-unpacked-bytes: "huge" must be bytes or a size like 512M, 64G/,
    );
  });

  test('durations take ms or units', () => {
    expect(configFromFlags({ 'default-grace-time': '1500' }).defaultGraceTimeMs).toBe(1500);
    expect(configFromFlags({ 'default-grace-time': '5m' }).defaultGraceTimeMs).toBe(300_000);
    expect(configFromFlags({ 'default-grace-time': '1h' }).defaultGraceTimeMs).toBe(3_600_000);
  });

  test('a value of the wrong type names the field and where it came from', async () => {
    await expect(loadConfig({ env: { ARBOR_PORT_POOL_SIZE: 'lots' }, configPath: await yamlFile('') })).rejects.toThrow(
      'invalid config: portPoolSize: environment variable ARBOR_PORT_POOL_SIZE: "lots" must be a whole number, 0 or more',
    );
    expect(() => configFromFlags({ 'default-grace-time': 'soon' })).toThrow(/defaultGraceTimeMs: flag --default-grace-time/);
  });

  test('an unknown key in the file is refused, listing the valid ones', async () => {
    const configPath = await yamlFile('listenn: unix:///tmp/x.sock');
    await expect(loadConfig({ env: {}, configPath })).rejects.toThrow(/listenn: .*unknown field; valid fields are backend, listen/);
  });

  test('a missing config file named explicitly is an error', async () => {
    await expect(loadConfig({ env: {}, configPath: join(dir, 'nope.yaml') })).rejects.toThrow(/cannot read config file/);
  });
});

describe('validateConfig', () => {
  const check = (input: ArborConfigInput): void => validateConfig(mergeConfig(input), ['fake', 'linux']);

  test('the defaults are valid', () => {
    expect(() => check({})).not.toThrow();
  });

  test('an unknown backend lists the registered ones', () => {
    expect(() => check({ backend: 'x' })).toThrow("unknown backend 'x': valid backends are fake, linux");
  });

  test.each<[ArborConfigInput, string]>([
    [{ listen: 'http://localhost:1' }, 'listen'],
    [{ listen: 'unix://relative.sock' }, 'listen'],
    [{ portPoolStart: 0 }, 'portPoolStart'],
    [{ portPoolStart: 65000, portPoolSize: 1000 }, 'portPoolSize'],
    [{ portPoolSize: 1.5 }, 'portPoolSize'],
    [{ maxContainers: -1 }, 'maxContainers'],
    [{ defaultPidLimit: -1 }, 'defaultPidLimit'],
    [{ defaultPidLimit: 1.5 }, 'defaultPidLimit'],
    [{ imageMaxUnpackedBytes: 0 }, 'imageMaxUnpackedBytes'],
    [{ imageMaxUnpackedBytes: -1 }, 'imageMaxUnpackedBytes'],
    [{ defaultGraceTimeMs: -5 }, 'defaultGraceTimeMs'],
    [{ networkPool: '10.254.0.0' }, 'networkPool'],
    [{ networkPool: '10.254.0.0/31' }, 'networkPool'],
    [{ tag: 'xy' }, 'tag'],
    [{ tag: 'X' }, 'tag'],
    [{ tag: 'b' }, 'tag'],
    [{ tag: 't' }, 'tag'],
    [{ stateDir: 'relative/dir' }, 'stateDir'],
    [{ logLevel: 'loud' as never }, 'logLevel'],
    [{ netInAllowedPorts: '0-1023' }, 'netInAllowedPorts'],
    [{ netInAllowedPorts: '1024-70000' }, 'netInAllowedPorts'],
    [{ netInAllowedPorts: '9000-8000' }, 'netInAllowedPorts'],
    [{ netInAllowedPorts: 'all' }, 'netInAllowedPorts'],
    [{ netInAllowedPorts: '' }, 'netInAllowedPorts'],
    [{ listen: 'tcp://127.0.0.1:7777', tls: { cert: '/c.pem' } }, 'tls.key'],
    [{ listen: 'tcp://127.0.0.1:7777', tls: { cert: '/c.pem', key: '/k.pem', requireClientCert: true } }, 'tls.ca'],
    [{ listen: 'tcp://127.0.0.1:7777', tls: { cert: '/c.pem', key: '/k.pem' } }, 'tls.ca'],
    [{ listen: 'tcp://127.0.0.1:7777', insecureTcp: true, tls: { ca: '/ca.pem' } }, 'tls.ca'],
    [{ listen: 'tcp://127.0.0.1:7777', tls: { cert: '/c.pem', key: '/k.pem', ca: '/ca.pem', requireClientCert: false } }, 'tls.requireClientCert'],
    [
      { listen: 'tcp://127.0.0.1:7777', tls: { cert: '/c.pem', key: '/k.pem', ca: '/ca.pem', requireClientCert: true, insecureAnonymousClients: true } },
      'tls.requireClientCert',
    ],
  ])('%j is refused, naming %s', (input, field) => {
    let error: unknown;
    try {
      check(input);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
    expect((error as ConfigError).message).toMatch(new RegExp(`^invalid config: ${field.replace('.', '\\.')}: `));
  });

  test('TCP without TLS is refused unless insecureTcp is set, saying how to fix it', () => {
    expect(() => check({ listen: 'tcp://127.0.0.1:7777' })).toThrow(/TCP without TLS is refused.*--insecure-tcp/);
    expect(() => check({ listen: 'tcp://127.0.0.1:7777', insecureTcp: true })).not.toThrow();
    expect(() => check({ listen: 'tcp://127.0.0.1:7777', tls: { cert: '/c.pem', key: '/k.pem', ca: '/ca.pem' } })).not.toThrow();
  });

  test('TLS on TCP needs tls.ca for client certificates unless anonymous clients are asked for by the loud name', () => {
    const tls = { cert: '/c.pem', key: '/k.pem' };
    expect(() => check({ listen: 'tcp://127.0.0.1:7777', tls })).toThrow(/tls\.ca: TCP needs client certificates.*--tls-ca.*--tls-insecure-anonymous-clients/);
    expect(() => check({ listen: 'tcp://127.0.0.1:7777', tls: { ...tls, insecureAnonymousClients: true } })).not.toThrow();
    // the deprecated key still reads, as what is now the default
    expect(() => check({ listen: 'tcp://127.0.0.1:7777', tls: { ...tls, ca: '/ca.pem', requireClientCert: true } })).not.toThrow();
    expect(() => check({ listen: 'tcp://127.0.0.1:7777', tls: { ...tls, ca: '/ca.pem', requireClientCert: false } })).toThrow(
      /tls\.requireClientCert: false is no longer supported.*--tls-insecure-anonymous-clients/,
    );
  });

  test('the loud key reads from YAML, ARBOR_TLS_INSECURE_ANONYMOUS_CLIENTS and --tls-insecure-anonymous-clients', async () => {
    const configPath = await yamlFile(['tls:', '  insecureAnonymousClients: true'].join('\n'));
    expect((await loadConfig({ env: {}, configPath })).tls.insecureAnonymousClients).toBe(true);
    expect(configFromEnv({ ARBOR_TLS_INSECURE_ANONYMOUS_CLIENTS: 'true' }).tls).toEqual({ insecureAnonymousClients: true });
    expect(configFromFlags({ 'tls-insecure-anonymous-clients': true }).tls).toEqual({ insecureAnonymousClients: true });
    expect(DEFAULT_CONFIG.tls.insecureAnonymousClients).toBe(false);
  });
});

describe('netInHostPorts', () => {
  test("allows 1024-65535 by default, less arbord's own TCP port", () => {
    expect(DEFAULT_CONFIG.netInAllowedPorts).toBe('1024-65535');
    expect(netInHostPorts(mergeConfig({}))).toEqual({ allowed: [{ start: 1024, end: 65535 }], reserved: [] });
    expect(netInHostPorts(mergeConfig({ listen: 'tcp://0.0.0.0:7777', insecureTcp: true }))).toEqual({
      allowed: [{ start: 1024, end: 65535 }],
      reserved: [7777],
    });
  });

  test('the operator widens or narrows it with ports and ranges', () => {
    const config = mergeConfig(configFromEnv({ ARBOR_NET_IN_ALLOWED_PORTS: '80, 443,8000-8999' }));
    expect(() => validateConfig(config, ['linux'])).not.toThrow();
    expect(netInHostPorts(config).allowed).toEqual([
      { start: 80, end: 80 },
      { start: 443, end: 443 },
      { start: 8000, end: 8999 },
    ]);
    expect(netInHostPorts(mergeConfig(configFromFlags({ 'net-in-allowed-ports': '1-65535' }))).allowed).toEqual([{ start: 1, end: 65535 }]);
  });
});

describe('gardenListen', () => {
  const valid = (input: ArborConfigInput): void => validateConfig(mergeConfig(input), ['linux']);

  test('is off by default and reads from YAML, ARBOR_GARDEN_LISTEN and --garden-listen', async () => {
    expect(DEFAULT_CONFIG.gardenListen).toBe('');
    const configPath = await yamlFile('gardenListen: unix:///run/arbor/garden.sock');
    expect((await loadConfig({ env: {}, configPath })).gardenListen).toBe('unix:///run/arbor/garden.sock');
    expect(configFromEnv({ ARBOR_GARDEN_LISTEN: 'tcp://127.0.0.1:7777' }).gardenListen).toBe('tcp://127.0.0.1:7777');
    expect(configFromFlags({ 'garden-listen': 'unix:///tmp/g.sock' }).gardenListen).toBe('unix:///tmp/g.sock');
  });

  test("a malformed address or listen's own address is refused, naming gardenListen", () => {
    expect(() => valid({ gardenListen: 'http://x' })).toThrow(/gardenListen: 'http:\/\/x' must look like unix:\/\/\/run\/arbor\/garden.sock/);
    expect(() => valid({ gardenListen: DEFAULT_CONFIG.listen })).toThrow(/gardenListen: .* is listen's address too/);
  });

  test('TCP follows the TLS rules of listen: plaintext only with insecureTcp, client certificates unless the loud key', () => {
    expect(() => valid({ gardenListen: 'tcp://127.0.0.1:7777' })).toThrow(/gardenListen: TCP without TLS is refused/);
    expect(() => valid({ gardenListen: 'tcp://127.0.0.1:7777', insecureTcp: true })).not.toThrow();
    const tls = { cert: '/c.pem', key: '/k.pem' };
    expect(() => valid({ gardenListen: 'tcp://127.0.0.1:7777', tls })).toThrow(/tls.ca: TCP needs client certificates \(tcp:\/\/127.0.0.1:7777\)/);
    expect(() => valid({ gardenListen: 'tcp://127.0.0.1:7777', tls: { ...tls, ca: '/ca.pem' } })).not.toThrow();
    expect(() => valid({ gardenListen: 'tcp://127.0.0.1:7777', tls: { ...tls, insecureAnonymousClients: true } })).not.toThrow();
    // TLS config is fine with gRPC on a unix socket when Garden's HTTP is on TCP, and refused when neither is
    expect(() => valid({ gardenListen: 'unix:///tmp/g.sock', tls: { ...tls, ca: '/ca.pem' } })).toThrow(/tls.cert: TLS applies to tcp:\/\/ listeners only/);
  });

  test("its TCP port is reserved from NetIn, like arbord's gRPC port", () => {
    const config = mergeConfig({ listen: 'tcp://0.0.0.0:7777', gardenListen: 'tcp://0.0.0.0:7778', insecureTcp: true });
    expect(netInHostPorts(config).reserved).toEqual([7777, 7778]);
  });
});

describe('metricsListen', () => {
  const valid = (input: ArborConfigInput): void => validateConfig(mergeConfig(input), ['linux']);

  test('is off by default and reads from YAML, ARBOR_METRICS_LISTEN and --metrics-listen', async () => {
    expect(DEFAULT_CONFIG.metricsListen).toBe('');
    expect(parseMetricsListen('')).toBeUndefined();
    const configPath = await yamlFile('metricsListen: 127.0.0.1:9324');
    expect((await loadConfig({ env: {}, configPath })).metricsListen).toBe('127.0.0.1:9324');
    expect(configFromEnv({ ARBOR_METRICS_LISTEN: 'tcp://127.0.0.1:9325' }).metricsListen).toBe('tcp://127.0.0.1:9325');
    expect(configFromFlags({ 'metrics-listen': 'localhost:0' }).metricsListen).toBe('localhost:0');
  });

  test('takes host:port with or without tcp://, and says whether it is loopback', () => {
    expect(parseMetricsListen('127.0.0.1:9324')).toEqual({ host: '127.0.0.1', port: 9324, loopback: true });
    expect(parseMetricsListen('tcp://[::1]:0')).toEqual({ host: '::1', port: 0, loopback: true });
    expect(parseMetricsListen('localhost:9324')?.loopback).toBe(true);
    expect(parseMetricsListen('0.0.0.0:9324')).toEqual({ host: '0.0.0.0', port: 9324, loopback: false });
    expect(() => valid({ metricsListen: '10.0.0.1:9324' })).not.toThrow();
  });

  test('a malformed address is refused, naming metricsListen', () => {
    expect(() => valid({ metricsListen: '9324' })).toThrow(/metricsListen: '9324' must look like 127.0.0.1:9324/);
    expect(() => valid({ metricsListen: 'http://127.0.0.1:9324/metrics' })).toThrow(ConfigError);
    expect(() => valid({ metricsListen: '127.0.0.1:70000' })).toThrow(/metricsListen/);
  });

  test('its port is reserved from NetIn', () => {
    expect(netInHostPorts(mergeConfig({ metricsListen: '127.0.0.1:9324' })).reserved).toEqual([9324]);
    expect(netInHostPorts(mergeConfig({ metricsListen: '127.0.0.1:0' })).reserved).toEqual([]);
  });
});
