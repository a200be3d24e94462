import { ArborError, parseCidr, type PortRange } from '@arbor/core';
import { DEFAULT_USERNS } from '@arbor/host';

/** LogLevel: 'debug' shows everything, 'silent' nothing. */
export type LogLevel = 'debug' | 'info' | 'error' | 'silent';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'error', 'silent'];

/** TlsConfig holds file paths of PEM files; '' means not set. */
export interface TlsConfig {
  /** cert is like /etc/arbor/tls/server.crt. */
  cert: string;
  key: string;
  /**
   * ca is like /etc/arbor/tls/clients-ca.crt: on TCP every client must present a certificate
   * it signed, because whoever reaches the API can do what root can on this host.
   */
  ca: string;
  /**
   * insecureAnonymousClients lets TLS clients in without a certificate (nor checks one):
   * anyone who reaches the port drives arbord. The name is long and loud on purpose.
   */
  insecureAnonymousClients: boolean;
  /**
   * requireClientCert is deprecated: client certificates are always required now. true is
   * accepted (and logged as deprecated); false is refused, pointing at insecureAnonymousClients,
   * so an old config that relied on it does not silently change meaning.
   */
  requireClientCert?: boolean;
}

/** ArborConfig is everything arbord reads at start; the backend gets it whole (TOKENS.BackendConfig). */
export interface ArborConfig {
  /** backend names an entry of the backend registry, like 'fake'. */
  backend: string;
  /** listen is like 'unix:///run/arbor/arbord.sock' or 'tcp://127.0.0.1:7777'. */
  listen: string;
  tls: TlsConfig;
  /** insecureTcp allows TCP without TLS; without it arbord refuses to listen so. */
  insecureTcp: boolean;
  /** stateDir is like /var/lib/arbor: where backends keep containers across restarts. */
  stateDir: string;
  /** defaultGraceTimeMs applies to containers created without one; 0 means never reaped. */
  defaultGraceTimeMs: number;
  /** defaultRootfs is the image used when a spec has none, like 'raw:///var/lib/arbor/rootfs'. */
  defaultRootfs: string;
  /** maxContainers caps the containers; 0 lets the backend decide. */
  maxContainers: number;
  /** defaultPidLimit is the pid limit of containers created without one (GardenerConfig.defaultPidLimit); 0 means none. */
  defaultPidLimit: number;
  /** stopTimeoutMs is how long Stop(kill=false) waits after TERM before it sends KILL. */
  stopTimeoutMs: number;
  /** portPoolStart and portPoolSize give the host ports NetIn hands out for host port 0. */
  portPoolStart: number;
  portPoolSize: number;
  /** networkPool is the subnet containers get their /30 from, like '10.254.0.0/22'. */
  networkPool: string;
  /**
   * tag names this arbord's links, chains and cgroups apart from another arbord's on the host,
   * like guardian's --tag: '' (the default) keeps the untagged names ('arb' links and chains,
   * 'arbor' cgroups); one lower-case letter or digit but b, v, i and t, like 'x', gives 'arbx'
   * links and chains and 'arbor-x' cgroups (link names have at most 15 characters).
   */
  tag: string;
  /**
   * netInAllowedPorts are the host ports a NetIn may name, like '1024-65535' or
   * '80,443,8000-8999'; arbord's own TCP port never (see netInHostPorts).
   */
  netInAllowedPorts: string;
  /**
   * imageMaxUnpackedBytes bounds the bytes one image pull unpacks, across its layers, like
   * 64 GiB: past it the pull fails with RESOURCE_EXHAUSTED (a gzip bomb cannot fill the disk).
   */
  imageMaxUnpackedBytes: number;
  /** runc is the runc backend's section (@arbor/backend-runc's RuncConfig). */
  runc: RuncSection;
  /** userns is the pool of host ids unprivileged containers are mapped onto (@arbor/host's UsernsConfig). */
  userns: UsernsSection;
  /**
   * gardenListen serves Garden's HTTP protocol (for Garden's Go client, Concourse, Diego) beside
   * gRPC, like 'unix:///run/arbor/garden.sock' (mode 0600) or 'tcp://127.0.0.1:7777' (under the
   * TLS rules of listen); '' turns it off.
   */
  gardenListen: string;
  /**
   * metricsListen serves Prometheus' GET /metrics over plain HTTP, like '127.0.0.1:9324' or
   * 'tcp://127.0.0.1:9324' (port 0: any free port); '' (the default) turns it off. Meant for
   * loopback: the metrics name every container, and arbord logs at start when it is not.
   */
  metricsListen: string;
  /**
   * fakeShell gives the fake backend's containers @arbor/fake-shell's busybox-like sh and
   * applets, for demos (the default); false leaves the fake as the contract suite sees it,
   * running probes (@arbor/probes) only. Other backends ignore it.
   */
  fakeShell: boolean;
  logLevel: LogLevel;
}

/** RuncSection is the runc backend's part of the config: `runc: { binary }` in YAML. */
export interface RuncSection {
  /** binary is the runc the runc backend runs: a path, or a name looked up in PATH, like 'runc'. */
  binary: string;
}

/**
 * UsernsSection is `userns: { enabled, base, size, perContainer }` in YAML: with enabled, each
 * unprivileged container runs in a user namespace whose ids 0..perContainer-1 are host ids
 * of a range of its own, taken from base..base+size-1.
 */
export interface UsernsSection {
  /** enabled (the default) gives unprivileged containers a user namespace (linux and runc backends); false keeps host root in every container. */
  enabled: boolean;
  /** base is the first host id of the pool, like 1000000000: above Debian's /etc/subuid ranges (100000 to 600100000). */
  base: number;
  /** size is how many host ids the pool holds, like 1000000000 (base + size - 1 at most 4294967294). */
  size: number;
  /** perContainer is how many ids each container gets, like 65536 (0 to 65535, nobody included). */
  perContainer: number;
}

/**
 * ArborConfigInput is a config with any field left out; left-out fields take the defaults.
 * runcBinary is the older name of runc.binary, still read; where an input gives both, runc.binary wins.
 */
export type ArborConfigInput = Partial<Omit<ArborConfig, 'tls' | 'runc' | 'userns'>> & {
  tls?: Partial<TlsConfig>;
  runc?: Partial<RuncSection>;
  userns?: Partial<UsernsSection>;
  runcBinary?: string;
};

export const DEFAULT_CONFIG: ArborConfig = {
  backend: 'linux',
  listen: 'unix:///run/arbor/arbord.sock',
  tls: { cert: '', key: '', ca: '', insecureAnonymousClients: false },
  insecureTcp: false,
  stateDir: '/var/lib/arbor',
  defaultGraceTimeMs: 0,
  defaultRootfs: '',
  maxContainers: 0,
  // 4096 tasks (threads count too) is what systemd gives a service by default (DefaultTasksMax,
  // 15% of the usual pid_max of 32768): room for a JVM's threads or a make -j, while a fork bomb
  // in one container stops there instead of taking every pid of the host.
  defaultPidLimit: 4096,
  stopTimeoutMs: 10_000,
  portPoolStart: 61001,
  portPoolSize: 4534,
  networkPool: '10.254.0.0/22',
  tag: '',
  // Below 1024 are the host's own services (ssh on 22): a NetIn there would take their traffic.
  netInAllowedPorts: '1024-65535',
  // 64 GiB, @arbor/images' DEFAULT_MAX_UNPACKED_BYTES: beyond real images, short of a full disk
  imageMaxUnpackedBytes: 64 * 1024 ** 3,
  runc: { binary: 'runc' },
  // on, 1e9 ids from 1e9 (@arbor/host's DEFAULT_USERNS says why)
  userns: { ...DEFAULT_USERNS },
  gardenListen: '',
  metricsListen: '',
  fakeShell: true,
  logLevel: 'info',
};

/** ConfigError names the config field at fault, like 'portPoolSize'. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`invalid config: ${field}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** mergeConfig lays inputs over the defaults in order, later ones winning field by field. */
export function mergeConfig(...inputs: ArborConfigInput[]): ArborConfig {
  const merged: ArborConfig = { ...DEFAULT_CONFIG, tls: { ...DEFAULT_CONFIG.tls }, runc: { ...DEFAULT_CONFIG.runc }, userns: { ...DEFAULT_CONFIG.userns } };
  for (const input of inputs) {
    const { tls, runc, userns, runcBinary, ...rest } = input;
    Object.assign(merged, dropUndefined(rest));
    if (tls) Object.assign(merged.tls, dropUndefined(tls));
    if (runcBinary !== undefined) merged.runc.binary = runcBinary;
    if (runc) Object.assign(merged.runc, dropUndefined(runc));
    if (userns) Object.assign(merged.userns, dropUndefined(userns));
  }
  return merged;
}

function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Listener is a parsed listen address. */
export type Listener = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** parseListen parses 'unix:///abs/path' or 'tcp://host:port' (port 0: any free port). */
export function parseListen(listen: string): Listener {
  if (listen.startsWith('unix://')) {
    const path = listen.slice('unix://'.length);
    if (!path.startsWith('/')) {
      throw new ConfigError('listen', `'${listen}' needs an absolute path, like unix:///run/arbor/arbord.sock`);
    }
    return { kind: 'unix', path };
  }
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(listen);
  if (m && Number(m[2]) <= 65535) {
    return { kind: 'tcp', host: m[1] ?? '', port: Number(m[2]) };
  }
  throw new ConfigError('listen', `'${listen}' must look like unix:///run/arbor/arbord.sock or tcp://127.0.0.1:7777`);
}

function wholeNumber(
  config: ArborConfig,
  field: 'defaultGraceTimeMs' | 'maxContainers' | 'defaultPidLimit' | 'stopTimeoutMs' | 'portPoolStart' | 'portPoolSize',
): void {
  const value = config[field];
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ConfigError(field, `${String(value)} must be a whole number, 0 or more`);
  }
}

/**
 * validateConfig checks every field and how they fit together.
 * @throws ConfigError naming the field, with what to change
 */
export function validateConfig(config: ArborConfig, backendNames: readonly string[]): void {
  if (!backendNames.includes(config.backend)) {
    throw new ConfigError('backend', `unknown backend '${config.backend}': valid backends are ${backendNames.join(', ')}`);
  }
  const listener = parseListen(config.listen);
  const garden = parseGardenListen(config);
  parseMetricsListen(config.metricsListen);
  wholeNumber(config, 'defaultGraceTimeMs');
  wholeNumber(config, 'maxContainers');
  wholeNumber(config, 'defaultPidLimit');
  wholeNumber(config, 'stopTimeoutMs');
  wholeNumber(config, 'portPoolStart');
  wholeNumber(config, 'portPoolSize');
  if (config.portPoolStart < 1 || config.portPoolStart > 65535) {
    throw new ConfigError('portPoolStart', `${config.portPoolStart} is not a port (1-65535)`);
  }
  if (config.portPoolSize < 1 || config.portPoolStart + config.portPoolSize - 1 > 65535) {
    throw new ConfigError('portPoolSize', `${config.portPoolSize} ports from ${config.portPoolStart} must be at least 1 and end at 65535 or below`);
  }
  try {
    const cidr = parseCidr(config.networkPool, 'networkPool');
    if (cidr.prefixLength > 30) {
      throw new ConfigError('networkPool', `'${config.networkPool}' is smaller than one /30: use /30 or wider`);
    }
  } catch (err) {
    if (ArborError.is(err)) throw new ConfigError('networkPool', `'${config.networkPool}' is not a subnet like 10.254.0.0/22`);
    throw err;
  }
  // the tags of @arbor/network's TAGS: 'arb' plus the tag must not look like another tag's names
  if (!/^[ac-hj-suw-z0-9]?$/.test(config.tag)) {
    throw new ConfigError('tag', `'${config.tag}' must be empty or one lower-case letter or digit but b, v, i and t, like 'x'`);
  }
  parsePortRanges(config.netInAllowedPorts);
  if (!Number.isSafeInteger(config.imageMaxUnpackedBytes) || config.imageMaxUnpackedBytes < 1) {
    throw new ConfigError('imageMaxUnpackedBytes', `${String(config.imageMaxUnpackedBytes)} must be a size of 1 byte or more, like 64G`);
  }
  validateUserns(config.userns);
  if (!config.stateDir.startsWith('/')) {
    throw new ConfigError('stateDir', `'${config.stateDir}' must be an absolute path, like /var/lib/arbor`);
  }
  if (!LOG_LEVELS.includes(config.logLevel)) {
    throw new ConfigError('logLevel', `'${String(config.logLevel)}' must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const { tls } = config;
  if ((tls.cert === '') !== (tls.key === '')) {
    throw new ConfigError(tls.cert === '' ? 'tls.cert' : 'tls.key', 'tls.cert and tls.key must be set together');
  }
  if (tls.requireClientCert === false && !tls.insecureAnonymousClients) {
    throw new ConfigError(
      'tls.requireClientCert',
      'false is no longer supported: client certificates are always required on TCP; remove the key, ' +
        'or set tls.insecureAnonymousClients (--tls-insecure-anonymous-clients) to let anyone who reaches the port in',
    );
  }
  if (tls.requireClientCert === true && tls.insecureAnonymousClients) {
    throw new ConfigError('tls.requireClientCert', 'contradicts tls.insecureAnonymousClients: set one of them');
  }
  if (tls.requireClientCert && tls.ca === '') {
    throw new ConfigError('tls.ca', 'tls.requireClientCert needs tls.ca to verify client certificates');
  }
  const anyTcp = listener.kind === 'tcp' || garden?.kind === 'tcp';
  if (!anyTcp && tls.cert !== '') {
    throw new ConfigError('tls.cert', `TLS applies to tcp:// listeners only, and listen is ${config.listen}`);
  }
  if (garden?.kind === 'tcp' && tls.cert === '' && !config.insecureTcp) {
    throw new ConfigError(
      'gardenListen',
      `TCP without TLS is refused (${config.gardenListen}): set tls.cert and tls.key (--tls-cert, --tls-key), ` +
        'or set insecureTcp (--insecure-tcp) to accept plaintext connections from anyone who can reach the port',
    );
  }
  if (listener.kind === 'tcp' && tls.cert === '' && !config.insecureTcp) {
    throw new ConfigError(
      'listen',
      `TCP without TLS is refused (${config.listen}): set tls.cert and tls.key (--tls-cert, --tls-key), ` +
        'or set insecureTcp (--insecure-tcp) to accept plaintext connections from anyone who can reach the port',
    );
  }
  if (anyTcp && tls.cert === '' && tls.ca !== '') {
    throw new ConfigError('tls.ca', 'client certificates are checked only over TLS: set tls.cert and tls.key (--tls-cert, --tls-key) too');
  }
  if (anyTcp && tls.cert !== '' && tls.ca === '' && !tls.insecureAnonymousClients) {
    throw new ConfigError(
      'tls.ca',
      `TCP needs client certificates (${listener.kind === 'tcp' ? config.listen : config.gardenListen}): whoever reaches the port can do what root can on this host. ` +
        "Set tls.ca (--tls-ca) to the CA that signs your clients' certificates, " +
        'or set tls.insecureAnonymousClients (--tls-insecure-anonymous-clients) to let anyone who reaches the port in',
    );
  }
}

/** MAX_HOST_ID is the largest id a user namespace may map to: 4294967295 is (uid_t)-1, never an id. */
const MAX_HOST_ID = 4_294_967_294;

/** validateUserns checks the id pool: whole numbers, above host root, room for one container, within the 32-bit ids. @throws ConfigError */
function validateUserns(userns: UsernsSection): void {
  for (const field of ['base', 'size', 'perContainer'] as const) {
    if (!Number.isSafeInteger(userns[field]) || userns[field] < 1) {
      throw new ConfigError(`userns.${field}`, `${String(userns[field])} must be a whole number, 1 or more`);
    }
  }
  if (userns.perContainer < 65536) {
    throw new ConfigError('userns.perContainer', `${userns.perContainer} must be 65536 or more: images use ids up to 65534 (nobody)`);
  }
  if (userns.size < userns.perContainer) {
    throw new ConfigError('userns.size', `${userns.size} ids hold no container of userns.perContainer ${userns.perContainer} ids`);
  }
  if (userns.base + userns.size - 1 > MAX_HOST_ID) {
    throw new ConfigError('userns.size', `${userns.size} ids from ${userns.base} end past ${MAX_HOST_ID}, the largest host id`);
  }
}

/**
 * parseGardenListen parses gardenListen like listen; undefined when it is off ('').
 * @throws ConfigError naming gardenListen, also when it is the gRPC listener's address
 */
export function parseGardenListen(config: ArborConfig): Listener | undefined {
  if (config.gardenListen === '') return undefined;
  let garden: Listener;
  try {
    garden = parseListen(config.gardenListen);
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new ConfigError('gardenListen', err.message.replace(/^invalid config: listen: /, '').replace('arbord.sock', 'garden.sock'));
    }
    throw err;
  }
  if (config.gardenListen === config.listen) {
    throw new ConfigError('gardenListen', `${config.gardenListen} is listen's address too: give Garden's HTTP protocol its own`);
  }
  return garden;
}

/** MetricsListener is a parsed metricsListen; loopback says whether host is 127.0.0.0/8, ::1 or localhost. */
export interface MetricsListener {
  host: string;
  port: number;
  loopback: boolean;
}

/**
 * parseMetricsListen parses metricsListen, like '127.0.0.1:9324', 'tcp://[::1]:9324' or
 * 'localhost:0'; undefined when it is off ('').
 * @throws ConfigError naming metricsListen
 */
export function parseMetricsListen(metricsListen: string): MetricsListener | undefined {
  if (metricsListen === '') return undefined;
  const m = /^(?:tcp:\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(metricsListen);
  if (!m || Number(m[2]) > 65535) {
    throw new ConfigError('metricsListen', `'${metricsListen}' must look like 127.0.0.1:9324 or tcp://127.0.0.1:9324, or be '' (off)`);
  }
  const host = (m[1] ?? '').replace(/^\[(.*)\]$/, '$1');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  return { host, port: Number(m[2]), loopback };
}

/**
 * parsePortRanges reads netInAllowedPorts, like '80,443,8000-8999'.
 * @throws ConfigError naming netInAllowedPorts
 */
function parsePortRanges(text: string): PortRange[] {
  const fail = (): never => {
    throw new ConfigError('netInAllowedPorts', `'${text}' must be ports or ranges from 1 to 65535, like '1024-65535' or '80,443,8000-8999'`);
  };
  return text.split(',').map((part) => {
    const m = /^\s*(\d{1,5})(?:-(\d{1,5}))?\s*$/.exec(part) ?? fail();
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    if (start < 1 || end > 65535 || start > end) fail();
    return { start, end };
  });
}

/**
 * netInHostPorts is what the Gardener lets a NetIn name (GardenerConfig.netInHostPorts):
 * netInAllowedPorts, less arbord's own TCP ports, gRPC's, Garden's HTTP and metrics' (a NetIn there would take the API's traffic,
 * from 127.0.0.1 too).
 */
export function netInHostPorts(config: ArborConfig): { allowed: PortRange[]; reserved: number[] } {
  const listeners = [parseListen(config.listen), parseGardenListen(config)];
  const metrics = parseMetricsListen(config.metricsListen);
  return {
    allowed: parsePortRanges(config.netInAllowedPorts),
    reserved: [...listeners.flatMap((l) => (l?.kind === 'tcp' && l.port !== 0 ? [l.port] : [])), ...(metrics && metrics.port !== 0 ? [metrics.port] : [])],
  };
}
