import { access, readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { ConfigError, mergeConfig } from './arbor-config';
import type { ArborConfig, ArborConfigInput, RuncSection, TlsConfig, UsernsSection } from './arbor-config';
import { parseDuration } from './parse-duration';
import { parseSize } from './parse-size';

/** DEFAULT_CONFIG_PATH is read when it exists and neither --config nor ARBOR_CONFIG names a file. */
export const DEFAULT_CONFIG_PATH = '/etc/arbor/arbord.yaml';

type Kind = 'string' | 'count' | 'duration' | 'size' | 'bool';

/** ConfigField ties a config field to its YAML key, environment variable and flag. */
export interface ConfigField {
  /** path is the field in ArborConfig and the YAML file, like 'tls.cert'. */
  path: string;
  env: string;
  flag: string;
  kind: Kind;
  description: string;
}

export const CONFIG_FIELDS: readonly ConfigField[] = [
  { path: 'backend', env: 'ARBOR_BACKEND', flag: 'backend', kind: 'string', description: "backend to serve, like 'fake'" },
  { path: 'listen', env: 'ARBOR_LISTEN', flag: 'listen', kind: 'string', description: 'unix:///path or tcp://host:port' },
  { path: 'stateDir', env: 'ARBOR_STATE_DIR', flag: 'state-dir', kind: 'string', description: 'where containers are kept' },
  {
    path: 'defaultGraceTimeMs',
    env: 'ARBOR_DEFAULT_GRACE_TIME',
    flag: 'default-grace-time',
    kind: 'duration',
    description: 'grace time of containers created without one: ms or 10s/5m/1h; 0 = never reaped',
  },
  { path: 'defaultRootfs', env: 'ARBOR_DEFAULT_ROOTFS', flag: 'default-rootfs', kind: 'string', description: 'image for specs without one' },
  { path: 'maxContainers', env: 'ARBOR_MAX_CONTAINERS', flag: 'max-containers', kind: 'count', description: '0 = the backend decides' },
  {
    path: 'defaultPidLimit',
    env: 'ARBOR_DEFAULT_PID_LIMIT',
    flag: 'default-pid-limit',
    kind: 'count',
    description: 'most processes of a container created without a pid limit; 0 = none',
  },
  {
    path: 'stopTimeoutMs',
    env: 'ARBOR_STOP_TIMEOUT',
    flag: 'stop-timeout',
    kind: 'duration',
    description: 'how long Stop waits after TERM before KILL: ms or 10s',
  },
  { path: 'portPoolStart', env: 'ARBOR_PORT_POOL_START', flag: 'port-pool-start', kind: 'count', description: 'first NetIn host port' },
  { path: 'portPoolSize', env: 'ARBOR_PORT_POOL_SIZE', flag: 'port-pool-size', kind: 'count', description: 'number of NetIn host ports' },
  { path: 'networkPool', env: 'ARBOR_NETWORK_POOL', flag: 'network-pool', kind: 'string', description: 'subnet of container addresses' },
  {
    path: 'tag',
    env: 'ARBOR_TAG',
    flag: 'tag',
    kind: 'string',
    description: "names this arbord's links, chains and cgroups apart from another's on the host: one letter or digit, like 'x'",
  },
  {
    path: 'netInAllowedPorts',
    env: 'ARBOR_NET_IN_ALLOWED_PORTS',
    flag: 'net-in-allowed-ports',
    kind: 'string',
    description: "host ports a NetIn may name, like '1024-65535' or '80,443,8000-8999'",
  },
  {
    path: 'imageMaxUnpackedBytes',
    env: 'ARBOR_IMAGE_MAX_UNPACKED_BYTES',
    flag: 'image-max-unpacked-bytes',
    kind: 'size',
    description: 'most bytes one image pull may unpack: bytes or a size like 64G',
  },
  { path: 'runc.binary', env: 'ARBOR_RUNC_BINARY', flag: 'runc-binary', kind: 'string', description: 'runc of the runc backend (path or name in PATH)' },
  {
    path: 'userns.enabled',
    env: 'ARBOR_USERNS_ENABLED',
    flag: 'userns-enabled',
    kind: 'bool',
    description: 'run unprivileged containers in a user namespace of their own ids (default true; false: host root)',
  },
  { path: 'userns.base', env: 'ARBOR_USERNS_BASE', flag: 'userns-base', kind: 'count', description: 'first host id of the user-namespace pool' },
  { path: 'userns.size', env: 'ARBOR_USERNS_SIZE', flag: 'userns-size', kind: 'count', description: 'host ids in the user-namespace pool' },
  {
    path: 'userns.perContainer',
    env: 'ARBOR_USERNS_PER_CONTAINER',
    flag: 'userns-per-container',
    kind: 'count',
    description: 'ids each unprivileged container gets from the pool, 65536 or more',
  },
  {
    path: 'gardenListen',
    env: 'ARBOR_GARDEN_LISTEN',
    flag: 'garden-listen',
    kind: 'string',
    description: "also serve Garden's HTTP protocol on unix:///path or tcp://host:port; off unless set",
  },
  {
    path: 'metricsListen',
    env: 'ARBOR_METRICS_LISTEN',
    flag: 'metrics-listen',
    kind: 'string',
    description: 'serve Prometheus GET /metrics on host:port, like 127.0.0.1:9324; off unless set',
  },
  {
    path: 'fakeShell',
    env: 'ARBOR_FAKE_SHELL',
    flag: 'fake-shell',
    kind: 'bool',
    description: 'fake backend: run a busybox-like sh and applets, for demos (default true; false: probes only)',
  },
  { path: 'insecureTcp', env: 'ARBOR_INSECURE_TCP', flag: 'insecure-tcp', kind: 'bool', description: 'allow TCP without TLS' },
  { path: 'tls.cert', env: 'ARBOR_TLS_CERT', flag: 'tls-cert', kind: 'string', description: 'server certificate (PEM file)' },
  { path: 'tls.key', env: 'ARBOR_TLS_KEY', flag: 'tls-key', kind: 'string', description: 'server private key (PEM file)' },
  { path: 'tls.ca', env: 'ARBOR_TLS_CA', flag: 'tls-ca', kind: 'string', description: 'CA that signs client certificates (PEM file); required on TCP' },
  {
    path: 'tls.insecureAnonymousClients',
    env: 'ARBOR_TLS_INSECURE_ANONYMOUS_CLIENTS',
    flag: 'tls-insecure-anonymous-clients',
    kind: 'bool',
    description: 'INSECURE: let TCP clients in without a certificate signed by tls.ca',
  },
  {
    path: 'tls.requireClientCert',
    env: 'ARBOR_TLS_REQUIRE_CLIENT_CERT',
    flag: 'tls-require-client-cert',
    kind: 'bool',
    description: 'deprecated: client certificates are always required on TCP',
  },
  { path: 'logLevel', env: 'ARBOR_LOG_LEVEL', flag: 'log-level', kind: 'string', description: 'debug, info, error or silent' },
];

type Value = string | number | boolean;

/** convert turns a raw value (text from env/flags, or a YAML scalar) into the field's type. */
function convert(field: ConfigField, raw: unknown, source: string): Value {
  const fail = (what: string): never => {
    throw new ConfigError(field.path, `${source}: ${JSON.stringify(raw)} ${what}`);
  };
  switch (field.kind) {
    case 'string':
      return typeof raw === 'string' ? raw : fail('must be a string');
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(true|1|yes)$/i.test(raw)) return true;
      if (typeof raw === 'string' && /^(false|0|no|)$/i.test(raw)) return false;
      return fail('must be true or false');
    case 'count':
      if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return raw;
      if (typeof raw === 'string' && /^\d+$/.test(raw) && Number.isSafeInteger(Number(raw))) return Number(raw);
      return fail('must be a whole number, 0 or more');
    case 'duration': {
      if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return raw;
      const ms = typeof raw === 'string' ? parseDuration(raw) : undefined;
      return ms ?? fail('must be milliseconds or a duration like 10s, 5m, 1h');
    }
    case 'size': {
      if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return raw;
      const bytes = typeof raw === 'string' ? parseSize(raw) : undefined;
      return bytes ?? fail('must be bytes or a size like 512M, 64G');
    }
  }
}

function set(input: ArborConfigInput, path: string, value: Value): void {
  if (path.startsWith('tls.')) {
    input.tls = { ...input.tls, [path.slice(4)]: value } as Partial<TlsConfig>;
  } else if (path.startsWith('runc.')) {
    input.runc = { ...input.runc, [path.slice(5)]: value } as Partial<RuncSection>;
  } else if (path.startsWith('userns.')) {
    input.userns = { ...input.userns, [path.slice(7)]: value } as Partial<UsernsSection>;
  } else {
    (input as Record<string, Value>)[path] = value;
  }
}

/** configFromEnv reads the ARBOR_* variables of CONFIG_FIELDS; unset or empty ones are skipped. */
export function configFromEnv(env: NodeJS.ProcessEnv): ArborConfigInput {
  const input: ArborConfigInput = {};
  for (const field of CONFIG_FIELDS) {
    const raw = env[field.env];
    if (raw === undefined || raw === '') continue;
    set(input, field.path, convert(field, raw, `environment variable ${field.env}`));
  }
  return input;
}

/** configFromFlags converts parsed flag values (keyed by flag name, like 'state-dir'). */
export function configFromFlags(flags: Record<string, string | boolean | undefined>): ArborConfigInput {
  const input: ArborConfigInput = {};
  for (const field of CONFIG_FIELDS) {
    const raw = flags[field.flag];
    if (raw === undefined) continue;
    set(input, field.path, convert(field, raw, `flag --${field.flag}`));
  }
  return input;
}

/**
 * parseArbordArgs reads arbord's command line: --config, -h/--help, --version and a flag per
 * CONFIG_FIELDS; a bool field also takes --no-<flag> (like --no-userns-enabled), which node's
 * parseArgs cannot spell as `--userns-enabled false`. Values go to configFromFlags as they are.
 * @throws Error for an unknown flag, a missing value, a positional or a bool given both ways
 */
export function parseArbordArgs(args: string[]): Record<string, string | boolean | undefined> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
  };
  for (const f of CONFIG_FIELDS) {
    options[f.flag] = { type: f.kind === 'bool' ? 'boolean' : 'string' };
    if (f.kind === 'bool') options[`no-${f.flag}`] = { type: 'boolean' };
  }
  const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
  for (const f of CONFIG_FIELDS) {
    if (f.kind !== 'bool' || !values[`no-${f.flag}`]) continue;
    if (values[f.flag]) throw new Error(`--${f.flag} and --no-${f.flag} contradict each other`);
    values[f.flag] = false;
    delete values[`no-${f.flag}`];
  }
  return values;
}

/** configFromYaml parses a config file's text; keys are ArborConfig's, with tls nested. */
export function configFromYaml(text: string, source: string): ArborConfigInput {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError('config', `${source} is not valid YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError('config', `${source} must hold a mapping of fields, like "backend: fake"`);
  }
  const input: ArborConfigInput = {};
  const known = new Map(CONFIG_FIELDS.map((f) => [f.path, f]));
  const visit = (obj: object, prefix: string): void => {
    for (const [key, raw] of Object.entries(obj)) {
      const path = prefix + key;
      if ((path === 'tls' || path === 'runc' || path === 'userns') && typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
        visit(raw, `${path}.`);
        continue;
      }
      // runcBinary is the older name of runc.binary
      const field = known.get(path === 'runcBinary' ? 'runc.binary' : path);
      if (!field) {
        throw new ConfigError(path, `${source}: unknown field; valid fields are ${[...known.keys()].join(', ')}`);
      }
      if (raw === null || raw === undefined) continue;
      set(input, path, convert(field, raw, source));
    }
  };
  visit(doc, '');
  return input;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export interface ConfigSources {
  /** flags from the command line (highest precedence). */
  flags?: ArborConfigInput;
  /** env is like process.env. */
  env?: NodeJS.ProcessEnv;
  /** configPath is --config; without it ARBOR_CONFIG, then DEFAULT_CONFIG_PATH if it exists. */
  configPath?: string;
}

/**
 * loadConfig merges, from lowest to highest precedence: defaults, the YAML file, ARBOR_*
 * variables, flags. It does not validate: startArbord does, knowing the backends.
 * @throws ConfigError for an unreadable file or a value of the wrong type
 */
export async function loadConfig(sources: ConfigSources = {}): Promise<ArborConfig> {
  const env = sources.env ?? {};
  const named = sources.configPath ?? (env['ARBOR_CONFIG'] || undefined);
  const path = named ?? ((await exists(DEFAULT_CONFIG_PATH)) ? DEFAULT_CONFIG_PATH : undefined);
  let fromFile: ArborConfigInput = {};
  if (path !== undefined) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new ConfigError('config', `cannot read config file ${path}: ${reason}`);
    }
    fromFile = configFromYaml(text, path);
  }
  return mergeConfig(fromFile, configFromEnv(env), sources.flags ?? {});
}
