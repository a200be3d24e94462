import { InvalidArgumentError } from './errors';
import {
  MIN_DISK_LIMIT_BYTES,
  validateContainerSpec,
  validateHandle,
  validateImageConfig,
  validateNetOutRule,
  validateProcessSpec,
  validateStreamSpec,
} from './validation';

function fieldOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidArgumentError) return err.field;
    throw err;
  }
  return undefined;
}

describe('validateHandle', () => {
  it.each(['web', 'a', 'web-1.prod_2', 'x'.repeat(256), '0a'])('accepts %s', (h) => {
    expect(() => validateHandle(h)).not.toThrow();
  });
  it.each(['', '-web', '.web', '../etc', 'a/b', 'a b', 'x'.repeat(257), 'é'])('refuses %j', (h) => {
    expect(() => validateHandle(h)).toThrow(InvalidArgumentError);
  });
});

describe('validateNetOutRule', () => {
  it('accepts the shapes Garden users send', () => {
    expect(() =>
      validateNetOutRule({
        protocol: 'tcp',
        networks: [{ start: '10.0.0.1', end: '10.0.0.255' }],
        ports: [{ start: 80, end: 443 }],
        log: true,
      }),
    ).not.toThrow();
    expect(() => validateNetOutRule({ protocol: 'icmp', icmps: { type: 8, code: 0 } })).not.toThrow();
    expect(() => validateNetOutRule({ protocol: 'all' })).not.toThrow();
  });

  it.each([
    [{ protocol: 'tcp', networks: [{ start: '10.0.0', end: '10.0.0.1' }] }, 'rule.networks[0].start'],
    [{ protocol: 'tcp', networks: [{ start: '10.0.0.9', end: '10.0.0.1' }] }, 'rule.networks[0]'],
    [{ protocol: 'tcp', ports: [{ start: 90, end: 80 }] }, 'rule.ports[0]'],
    [{ protocol: 'tcp', ports: [{ start: 0, end: 80 }] }, 'rule.ports[0].start'],
    [{ protocol: 'icmp', ports: [{ start: 80, end: 80 }] }, 'rule.ports'],
    [{ protocol: 'tcp', icmps: { type: 8 } }, 'rule.icmps'],
    [{ protocol: 'icmp', icmps: { type: 300 } }, 'rule.icmps.type'],
    [{ protocol: 'sctp' }, 'rule.protocol'],
  ])('names the field at fault in %j', (rule, field) => {
    expect(fieldOf(() => validateNetOutRule(rule as never))).toBe(field);
  });
});

describe('validateContainerSpec', () => {
  it.each([
    [{ limits: { memory: { limitInBytes: -1 } } }, 'limits.memory.limitInBytes'],
    [{ limits: { cpu: { weight: 1.5 } } }, 'limits.cpu.weight'],
    [{ limits: { pid: { max: Number.NaN } } }, 'limits.pid.max'],
    [{ limits: { disk: { byteSoft: 10, byteHard: 5, inodeSoft: 0, inodeHard: 0, scope: 'total' } } }, 'limits.disk.byteSoft'],
    [{ limits: { disk: { byteSoft: 0, byteHard: 1024 * 1024 - 1, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' } } }, 'limits.disk.byteHard'],
    [{ network: '10.254.0.0/33' }, 'network'],
    [{ network: '10.254.0.1/31' }, 'network'],
    [{ env: ['NOEQUALS'] }, 'env[0]'],
    [{ bindMounts: [{ srcPath: 'rel', dstPath: '/x', mode: 'ro', origin: 'host' }] }, 'bindMounts[0].srcPath'],
    [{ bindMounts: [{ srcPath: '/x', dstPath: '/x', mode: 'rw', origin: 'container', idmap: true }] }, 'bindMounts[0].idmap'],
    [{ netIn: [{ hostPort: 70000, containerPort: 80 }] }, 'netIn[0].hostPort'],
    [{ graceTimeMs: -5 }, 'graceTimeMs'],
  ])('names the field at fault in %j', (spec, field) => {
    expect(fieldOf(() => validateContainerSpec(spec as never))).toBe(field);
  });

  it("accepts an exclusive disk byteHard of MIN_DISK_LIMIT_BYTES, and a smaller 'total' one (the volumizer weighs it against the image)", () => {
    const disk = { byteSoft: 0, byteHard: MIN_DISK_LIMIT_BYTES, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' } as const;
    expect(() => validateContainerSpec({ limits: { disk } })).not.toThrow();
    expect(() => validateContainerSpec({ limits: { disk: { ...disk, byteHard: 1, scope: 'total' } } })).not.toThrow();
  });

  it('accepts an empty spec', () => {
    expect(() => validateContainerSpec({})).not.toThrow();
  });

  it('accepts an idmapped bind mount of origin host', () => {
    expect(() => validateContainerSpec({ bindMounts: [{ srcPath: '/srv', dstPath: '/data', mode: 'rw', origin: 'host', idmap: true }] })).not.toThrow();
  });
});

describe('validateProcessSpec', () => {
  it.each([
    [{ path: '' }, 'path'],
    [{ path: 'ls', user: 'a b' }, 'user'],
    [{ path: 'ls', rlimits: { nofile: -1 } }, 'rlimits.nofile'],
    [{ path: 'ls', rlimits: { bogus: 1 } }, 'rlimits.bogus'],
    [{ path: 'ls', tty: { windowSize: { columns: -1, rows: 2 } } }, 'tty.windowSize.columns'],
    [{ path: 'ls', id: '../x' }, 'id'],
  ])('names the field at fault in %j', (spec, field) => {
    expect(fieldOf(() => validateProcessSpec(spec as never))).toBe(field);
  });

  it.each(['', 'root', 'vcap', '1000:1000', '0'])('accepts user %j', (user) => {
    expect(() => validateProcessSpec({ path: 'ls', user })).not.toThrow();
  });
});

// hostile input: a NUL would end a C string early or, framed in a helper's argv, start another argument
describe('NUL and id bounds', () => {
  it.each([
    [{ path: 'sh\u0000--privileged' }, 'path'],
    [{ path: 'sh', args: ['-c', 'x\u0000--privileged'] }, 'args[1]'],
    [{ path: 'sh', env: ['X=1\u0000--privileged'] }, 'env[0]'],
    [{ path: 'sh', dir: '/tmp\u0000--privileged' }, 'dir'],
    [{ path: 'sh', dir: 'relative/dir' }, 'dir'],
    [{ path: 'sh', user: 'vcap\u0000--privileged' }, 'user'],
    [{ path: 'sh', user: '4294967295:0' }, 'user'],
    [{ path: 'sh', user: '0:4294967295' }, 'user'],
    [{ path: 'sh', user: '99999999999:0' }, 'user'],
  ])('refuses %j in %s', (spec, field) => {
    expect(fieldOf(() => validateProcessSpec(spec))).toBe(field);
  });

  it('accepts the largest id and ordinary users', () => {
    for (const user of ['4294967294:4294967294', '0', '1000:1000', 'vcap', 'nobody']) {
      expect(() => validateProcessSpec({ path: 'sh', user })).not.toThrow();
    }
  });

  it('refuses a NUL in a container spec: env, bind mounts, image and properties', () => {
    expect(fieldOf(() => validateContainerSpec({ env: ['A=\u0000'] }))).toBe('env[0]');
    expect(fieldOf(() => validateContainerSpec({ bindMounts: [{ srcPath: '/a\u0000', dstPath: '/b', mode: 'ro', origin: 'host' }] }))).toBe(
      'bindMounts[0].srcPath',
    );
    expect(fieldOf(() => validateContainerSpec({ image: { uri: 'raw:///x\u0000' } }))).toBe('image.uri');
    expect(fieldOf(() => validateContainerSpec({ properties: { a: 'b\u0000' } }))).toBe('properties.a');
  });

  it('quotes at most 64 characters of an input in its message', () => {
    expect(() => validateHandle('/'.repeat(100_000))).toThrow(/^handle: "\/{64}\.\.\." is not a valid handle/);
  });

  it('checks an image config as API input, naming the image and the field', () => {
    expect(() => validateImageConfig({ env: ['X=1\u0000--privileged'] }, 'oci:///l#t')).toThrow(/image: "oci:\/\/\/l#t" config Env\[0\]/);
    expect(() => validateImageConfig({ user: '4294967295' }, 'i')).toThrow(/config User/);
    expect(() => validateImageConfig({ workingDir: '/a\u0000' }, 'i')).toThrow(/config WorkingDir/);
    expect(() => validateImageConfig({ cmd: ['sh', '\u0000'] }, 'i')).toThrow(/config Cmd\[1\]/);
    expect(() => validateImageConfig({ entrypoint: ['\u0000'] }, 'i')).toThrow(/config Entrypoint\[0\]/);
    expect(() => validateImageConfig({ env: ['PATH=/bin'], user: 'vcap', workingDir: '/app', cmd: ['sh'] }, 'i')).not.toThrow();
  });
});

describe('validateStreamSpec', () => {
  it('refuses a NUL in the path and an id out of range', () => {
    expect(fieldOf(() => validateStreamSpec({ path: '/tmp\u0000x' }))).toBe('path');
    expect(fieldOf(() => validateStreamSpec({ path: '/tmp', user: '4294967295:0' }))).toBe('user');
    expect(() => validateStreamSpec({ path: 'relative/dir', user: 'vcap' })).not.toThrow();
  });
});
