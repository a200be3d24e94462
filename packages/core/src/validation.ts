import { InvalidArgumentError } from './errors';
import { parseCidr, parseIPv4 } from './ipv4';
import type {
  BandwidthLimits,
  ContainerSpec,
  CpuLimits,
  DiskLimits,
  Limits,
  MemoryLimits,
  NetOutRule,
  PidLimits,
  ProcessSpec,
  ResourceLimitName,
} from './types';
import { RESOURCE_LIMIT_NAMES } from './types';

// The checks below run in the Gardener (in-process) and in the client (before anything is
// sent), so that bad input fails the same way everywhere and changes nothing.

const namePattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,255}$/;

/** QUOTE_LIMIT is how many characters of an input an error message repeats. */
const QUOTE_LIMIT = 64;

/**
 * quoteInput is an input as an error message shows it: JSON-quoted (a NUL shows as \u0000)
 * and cut to 64 characters, so a 100 KB input never makes a 100 KB message.
 */
export function quoteInput(value: string): string {
  const cut = value.length > QUOTE_LIMIT ? `${value.slice(0, QUOTE_LIMIT)}...` : value;
  return JSON.stringify(cut);
}

/** MAX_ID is the largest uid or gid a user may name: 2^32-1 is (uid_t)-1, which the kernel reads as 'unchanged'. */
export const MAX_ID = 4294967294;

/**
 * validateText refuses a NUL: every string reaches C helpers and the kernel, where a NUL ends
 * it (and, in argv framing, would start another argument).
 */
export function validateText(value: string, field: string): void {
  if (value.includes('\0')) throw new InvalidArgumentError(field, `${quoteInput(value)} contains a NUL character`);
}

/** validateHandle: 1-256 characters of A-Z a-z 0-9 . _ -, not starting with . or -. */
export function validateHandle(handle: string, field = 'handle'): void {
  if (!namePattern.test(handle)) {
    throw new InvalidArgumentError(
      field,
      `${quoteInput(handle)} is not a valid handle: use 1-256 characters from A-Z a-z 0-9 . _ - , not starting with . or -`,
    );
  }
}

/** validateProcessId: the same alphabet as handles. */
export function validateProcessId(id: string, field = 'processId'): void {
  if (!namePattern.test(id)) {
    throw new InvalidArgumentError(
      field,
      `${quoteInput(id)} is not a valid process id: use 1-256 characters from A-Z a-z 0-9 . _ - , not starting with . or -`,
    );
  }
}

function count(value: number, field: string, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new InvalidArgumentError(field, `${value} must be a whole number from 0 to ${max}`);
  }
}

export function validateBandwidthLimits(l: BandwidthLimits, field = 'limits.bandwidth'): void {
  count(l.rateInBytesPerSecond, `${field}.rateInBytesPerSecond`);
  count(l.burstRateInBytesPerSecond, `${field}.burstRateInBytesPerSecond`);
}

export function validateCpuLimits(l: CpuLimits, field = 'limits.cpu'): void {
  count(l.weight, `${field}.weight`);
}

/**
 * MIN_DISK_LIMIT_BYTES is the smallest disk byteHard of scope 'exclusive' (0 aside: none) Arbor
 * takes, and the least a 'total' one must leave beside the image: 1 MiB. Below about 256 KiB a
 * host backend cannot make the container's root filesystem within the quota (btrfs counts a
 * subvolume's metadata blocks of 16 KiB, and reserves more, against it), which callers saw as
 * a raw ENOENT; a limit no container can be made under is the caller's mistake, on every
 * backend alike.
 */
export const MIN_DISK_LIMIT_BYTES = 1024 * 1024;

export function validateDiskLimits(l: DiskLimits, field = 'limits.disk'): void {
  count(l.byteSoft, `${field}.byteSoft`);
  count(l.byteHard, `${field}.byteHard`);
  count(l.inodeSoft, `${field}.inodeSoft`);
  count(l.inodeHard, `${field}.inodeHard`);
  if (l.scope !== 'total' && l.scope !== 'exclusive') {
    throw new InvalidArgumentError(`${field}.scope`, `'${String(l.scope)}' must be 'total' or 'exclusive'`);
  }
  // a 'total' byteHard includes the image, so only the volumizer, which knows the image, can judge it
  if (l.scope === 'exclusive' && l.byteHard > 0 && l.byteHard < MIN_DISK_LIMIT_BYTES) {
    throw new InvalidArgumentError(
      `${field}.byteHard`,
      `${l.byteHard} bytes is too little to make a container's root filesystem in: give at least ${MIN_DISK_LIMIT_BYTES} (1 MiB), or 0 for no limit`,
    );
  }
  if (l.byteHard > 0 && l.byteSoft > l.byteHard) {
    throw new InvalidArgumentError(`${field}.byteSoft`, `${l.byteSoft} is above byteHard ${l.byteHard}`);
  }
}

/**
 * MIN_MEMORY_LIMIT_BYTES is the smallest memory limit (0 aside: none) Arbor takes: 6 MiB,
 * Docker's floor. Below about that the kernel kills a container's init or first process at
 * once, which callers saw as INTERNAL; a limit no container can live under is the caller's
 * mistake whatever the container's state, so INVALID_ARGUMENT, on every backend alike.
 */
export const MIN_MEMORY_LIMIT_BYTES = 6 * 1024 * 1024;

export function validateMemoryLimits(l: MemoryLimits, field = 'limits.memory'): void {
  count(l.limitInBytes, `${field}.limitInBytes`);
  if (l.limitInBytes > 0 && l.limitInBytes < MIN_MEMORY_LIMIT_BYTES) {
    throw new InvalidArgumentError(
      `${field}.limitInBytes`,
      `${l.limitInBytes} bytes is too little for a container to start a process: give at least ${MIN_MEMORY_LIMIT_BYTES} (6 MiB), or 0 for no limit`,
    );
  }
}

export function validatePidLimits(l: PidLimits, field = 'limits.pid'): void {
  count(l.max, `${field}.max`);
}

export function validateLimits(limits: Limits, field = 'limits'): void {
  if (limits.bandwidth) validateBandwidthLimits(limits.bandwidth, `${field}.bandwidth`);
  if (limits.cpu) validateCpuLimits(limits.cpu, `${field}.cpu`);
  if (limits.disk) validateDiskLimits(limits.disk, `${field}.disk`);
  if (limits.memory) validateMemoryLimits(limits.memory, `${field}.memory`);
  if (limits.pid) validatePidLimits(limits.pid, `${field}.pid`);
}

function port(value: number, field: string, allowZero: boolean): void {
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1) || value > 65535) {
    throw new InvalidArgumentError(field, `${value} is not a port (${allowZero ? 0 : 1}-65535)`);
  }
}

/** validatePortMapping: 0 means 'from the pool' (host) or 'same as host' (container). */
export function validatePortMapping(hostPort: number, containerPort: number, field = 'netIn'): void {
  port(hostPort, `${field}.hostPort`, true);
  port(containerPort, `${field}.containerPort`, true);
}

export function validateNetOutRule(rule: NetOutRule, field = 'rule'): void {
  if (!['all', 'tcp', 'udp', 'icmp'].includes(rule.protocol)) {
    throw new InvalidArgumentError(`${field}.protocol`, `'${String(rule.protocol)}' must be all, tcp, udp or icmp`);
  }
  (rule.networks ?? []).forEach((range, i) => {
    const start = parseIPv4(range.start, `${field}.networks[${i}].start`);
    const end = parseIPv4(range.end, `${field}.networks[${i}].end`);
    if (start > end) {
      throw new InvalidArgumentError(`${field}.networks[${i}]`, `start ${range.start} is after end ${range.end}`);
    }
  });
  const ports = rule.ports ?? [];
  if (ports.length > 0 && rule.protocol !== 'tcp' && rule.protocol !== 'udp') {
    throw new InvalidArgumentError(`${field}.ports`, `ports need protocol tcp or udp, not ${rule.protocol}`);
  }
  ports.forEach((range, i) => {
    port(range.start, `${field}.ports[${i}].start`, false);
    port(range.end, `${field}.ports[${i}].end`, false);
    if (range.start > range.end) {
      throw new InvalidArgumentError(`${field}.ports[${i}]`, `start ${range.start} is after end ${range.end}`);
    }
  });
  if (rule.icmps) {
    if (rule.protocol !== 'icmp') {
      throw new InvalidArgumentError(`${field}.icmps`, `icmps need protocol icmp, not ${rule.protocol}`);
    }
    count(rule.icmps.type, `${field}.icmps.type`, 255);
    if (rule.icmps.code !== undefined) count(rule.icmps.code, `${field}.icmps.code`, 255);
  }
}

/** validateEnv: entries like 'KEY=VALUE', with no NUL anywhere. */
export function validateEnv(env: readonly string[], field = 'env'): void {
  env.forEach((entry, i) => {
    validateText(entry, `${field}[${i}]`);
    if (!/^[^=]+=/.test(entry)) {
      throw new InvalidArgumentError(`${field}[${i}]`, `${quoteInput(entry)} must look like KEY=VALUE`);
    }
  });
}

/** validateNetworkRequest: '', a subnet like '10.254.0.8/30' or an address in one. */
export function validateNetworkRequest(network: string, field = 'network'): void {
  if (network === '') return;
  const cidr = parseCidr(network, field);
  if (cidr.prefixLength > 30) {
    throw new InvalidArgumentError(field, `'${network}' leaves no room for a gateway and a container: use /30 or wider`);
  }
}

export function validateContainerSpec(spec: ContainerSpec): void {
  if (spec.handle) validateHandle(spec.handle);
  if (spec.graceTimeMs !== undefined) count(spec.graceTimeMs, 'graceTimeMs');
  validateNetworkRequest(spec.network ?? '');
  validateEnv(spec.env ?? [], 'env');
  if (spec.image) validateText(spec.image.uri, 'image.uri');
  (spec.bindMounts ?? []).forEach((m, i) => {
    validateAbsolutePath(m.srcPath, `bindMounts[${i}].srcPath`);
    validateAbsolutePath(m.dstPath, `bindMounts[${i}].dstPath`);
    // a source in the container's rootfs already shows the container's own ids
    if (m.idmap && m.origin === 'container') {
      throw new InvalidArgumentError(`bindMounts[${i}].idmap`, 'idmap is for bind mounts of origin host: drop it for a source in the container');
    }
  });
  for (const [key, value] of Object.entries(spec.properties ?? {})) {
    if (key === '') throw new InvalidArgumentError('properties', 'property names must not be empty');
    validateText(key, 'properties');
    validateText(value, `properties.${key}`);
  }
  validateLimits(spec.limits ?? {});
  (spec.netIn ?? []).forEach((m, i) => validatePortMapping(m.hostPort, m.containerPort, `netIn[${i}]`));
  (spec.netOut ?? []).forEach((r, i) => validateNetOutRule(r, `netOut[${i}]`));
}

/** validateAbsolutePath: a path like /srv/app, with no NUL. */
export function validateAbsolutePath(path: string, field: string): void {
  validateText(path, field);
  if (!path.startsWith('/')) throw new InvalidArgumentError(field, `${quoteInput(path)} must be absolute`);
}

/**
 * validateUser: '' (root), a name like 'vcap' (up to 32 characters), 'uid' or 'uid:gid' like
 * '1000:1000', each id from 0 to 4294967294.
 */
export function validateUser(user: string, field = 'user'): void {
  if (user === '') return;
  const ids = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(user);
  if (ids) {
    for (const id of [ids[1], ids[2]]) {
      if (id !== undefined && Number(id) > MAX_ID) {
        throw new InvalidArgumentError(field, `${quoteInput(user)}: ids run from 0 to ${MAX_ID}`);
      }
    }
    return;
  }
  if (!/^[a-z_][a-z0-9_.-]{0,31}\$?$/i.test(user)) {
    throw new InvalidArgumentError(field, `${quoteInput(user)} must be a user name or uid:gid`);
  }
}

/** validateStreamSpec: a StreamIn or StreamOut path (relative ones start at the user's home) and user. */
export function validateStreamSpec(spec: { path: string; user?: string }): void {
  validateText(spec.path, 'path');
  validateUser(spec.user ?? '');
}

export function validateProcessSpec(spec: ProcessSpec): void {
  if (spec.id) validateProcessId(spec.id, 'id');
  if (!spec.path) throw new InvalidArgumentError('path', 'the executable path must not be empty');
  validateText(spec.path, 'path');
  (spec.args ?? []).forEach((arg, i) => validateText(arg, `args[${i}]`));
  validateEnv(spec.env ?? [], 'env');
  if (spec.dir) validateAbsolutePath(spec.dir, 'dir');
  validateUser(spec.user ?? '');
  for (const [name, value] of Object.entries(spec.rlimits ?? {})) {
    if (!RESOURCE_LIMIT_NAMES.includes(name as ResourceLimitName)) {
      throw new InvalidArgumentError(`rlimits.${name}`, `unknown rlimit: use one of ${RESOURCE_LIMIT_NAMES.join(', ')}`);
    }
    if (value !== undefined) count(value, `rlimits.${name}`);
  }
  const size = spec.tty?.windowSize;
  if (size) {
    count(size.columns, 'tty.windowSize.columns', 65535);
    count(size.rows, 'tty.windowSize.rows', 65535);
  }
}

/** ImageConfigFields are the parts of an image's config that reach a process: hostile input. */
export interface ImageConfigFields {
  env?: readonly string[];
  user?: string;
  workingDir?: string;
  cmd?: readonly string[];
  entrypoint?: readonly string[];
}

/**
 * validateImageConfig checks an image's config as API input is checked: an image is hostile
 * content. @throws InvalidArgumentError naming the image and the field, like
 * "image: docker://127.0.0.1:5000/app#1 config Env[0]: ... contains a NUL character"
 */
export function validateImageConfig(config: ImageConfigFields, image: string): void {
  const field = (name: string) => `image: ${quoteInput(image)} config ${name}`;
  try {
    validateEnv(config.env ?? [], 'Env');
    if (config.user) validateText(config.user, 'User');
    if (config.user) validateUser(config.user, 'User');
    if (config.workingDir) validateAbsolutePath(config.workingDir, 'WorkingDir');
    (config.cmd ?? []).forEach((arg, i) => validateText(arg, `Cmd[${i}]`));
    (config.entrypoint ?? []).forEach((arg, i) => validateText(arg, `Entrypoint[${i}]`));
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new InvalidArgumentError(field(err.field), err.message.slice(err.field.length + 2));
    throw err;
  }
}
