import { ContainerNotFoundError, ExecutableNotFoundError, InvalidArgumentError, ProcessNotFoundError, UnrecoverableError } from '@arbor/core';
import { toGardenError } from './garden-error';
import { containerSpecFromGarden, netOutRuleFromGarden, processSpecFromGarden } from './garden-json';

describe('containerSpecFromGarden', () => {
  it("maps Garden's ContainerSpec field by field", () => {
    expect(
      containerSpecFromGarden({
        handle: 'web-1',
        grace_time: 5_000_000_000,
        image: { uri: 'docker:///busybox#1.36', username: 'u', password: 'p' },
        bind_mounts: [
          { src_path: '/host/a', dst_path: '/a' },
          { src_path: '/in/b', dst_path: '/b', mode: 1, origin: 1 },
        ],
        network: '10.254.0.8/30',
        properties: { app: 'web' },
        env: ['A=1'],
        privileged: true,
        limits: {
          bandwidth_limits: { rate: 1000, burst: 2000 },
          cpu_limits: { weight: 100 },
          disk_limits: { byte_hard: 1 << 30, inode_hard: 1000, scope: 1 },
          memory_limits: { limit_in_bytes: 1 << 28 },
          pid_limits: { max: 50 },
        },
        netin: [{ host_port: 0, container_port: 8080 }],
        netout_rules: [{ protocol: 1, networks: [{ start: '10.0.0.1' }], ports: [{ start: 80 }] }],
      }),
    ).toEqual({
      handle: 'web-1',
      graceTimeMs: 5000,
      image: { uri: 'docker:///busybox#1.36', username: 'u', password: 'p' },
      bindMounts: [
        { srcPath: '/host/a', dstPath: '/a', mode: 'ro', origin: 'host' },
        { srcPath: '/in/b', dstPath: '/b', mode: 'rw', origin: 'container' },
      ],
      network: '10.254.0.8/30',
      properties: { app: 'web' },
      env: ['A=1'],
      privileged: true,
      limits: {
        bandwidth: { rateInBytesPerSecond: 1000, burstRateInBytesPerSecond: 2000 },
        cpu: { weight: 100 },
        disk: { byteSoft: 0, byteHard: 1 << 30, inodeSoft: 0, inodeHard: 1000, scope: 'exclusive' },
        memory: { limitInBytes: 1 << 28 },
        pid: { max: 50 },
      },
      netIn: [{ hostPort: 0, containerPort: 8080 }],
      netOut: [{ protocol: 'tcp', networks: [{ start: '10.0.0.1', end: '10.0.0.1' }], ports: [{ start: 80, end: 80 }] }],
    });
  });

  it('reads rootfs as the image, a bare path as raw://, and zero values as absent', () => {
    expect(containerSpecFromGarden({ rootfs: '/var/lib/rootfs', grace_time: 0, limits: { memory_limits: {} } })).toEqual({
      image: { uri: 'raw:///var/lib/rootfs' },
    });
    expect(containerSpecFromGarden({ grace_time: 1 })).toEqual({ graceTimeMs: 1 });
    expect(containerSpecFromGarden(undefined)).toEqual({});
  });

  it("names the field at fault in Garden's spelling", () => {
    expect(() => containerSpecFromGarden({ bind_mounts: [{ mode: 2 }] })).toThrow(/bind_mounts\[0\]\.mode/);
    expect(() => containerSpecFromGarden({ properties: { a: 1 } })).toThrow(/properties\.a: must be a string/);
    expect(() => containerSpecFromGarden({ grace_time: -1 })).toThrow(/grace_time/);
    expect(() => containerSpecFromGarden('x')).toThrow(InvalidArgumentError);
  });
});

describe('processSpecFromGarden', () => {
  it("maps Garden's ProcessSpec: id, path, args, env, dir, user, rlimits, tty", () => {
    expect(
      processSpecFromGarden({
        id: 'p1',
        path: '/bin/sh',
        args: ['-c', 'true'],
        env: ['X=1'],
        dir: '/tmp',
        user: 'vcap',
        rlimits: { nofile: 1024, core: 0 },
        tty: { window_size: { columns: 100, rows: 30 } },
      }),
    ).toEqual({
      id: 'p1',
      path: '/bin/sh',
      args: ['-c', 'true'],
      env: ['X=1'],
      dir: '/tmp',
      user: 'vcap',
      rlimits: { nofile: 1024, core: 0 },
      tty: { windowSize: { columns: 100, rows: 30 } },
    });
    expect(processSpecFromGarden({ path: 'sh', tty: {} })).toEqual({ path: 'sh', tty: {} });
  });

  it('refuses peas and per-process limits', () => {
    expect(() => processSpecFromGarden({ path: 'sh', image: { uri: 'docker:///x' } })).toThrow(/peas/);
    expect(() => processSpecFromGarden({ path: 'sh', bind_mounts: [{ src_path: '/a' }] })).toThrow(/bind_mounts/);
    expect(() => processSpecFromGarden({ path: 'sh', limits: { memory_limits: { limit_in_bytes: 1 } } })).toThrow(/per-process limits/);
    expect(processSpecFromGarden({ path: 'sh', image: {}, limits: {} })).toEqual({ path: 'sh' });
  });
});

describe('netOutRuleFromGarden', () => {
  it('maps protocols 0-3 and icmp controls', () => {
    expect(netOutRuleFromGarden({}, 'rule')).toEqual({ protocol: 'all' });
    expect(netOutRuleFromGarden({ protocol: 3, icmps: { type: 8, code: 0 }, log: true }, 'rule')).toEqual({
      protocol: 'icmp',
      icmps: { type: 8, code: 0 },
      log: true,
    });
    expect(() => netOutRuleFromGarden({ protocol: 4 }, 'rule')).toThrow(/rule\.protocol/);
  });
});

describe('toGardenError', () => {
  const blank = { Handle: '', ProcessID: '', Binary: '' };
  it("gives Garden's Type and status for the errors Garden knows, 500 and no Type otherwise", () => {
    expect(toGardenError(new ContainerNotFoundError('h'))).toEqual({
      status: 404,
      body: { ...blank, Type: 'ContainerNotFoundError', Message: 'unknown handle: h', Handle: 'h' },
    });
    expect(toGardenError(new ProcessNotFoundError('p'))).toEqual({
      status: 404,
      body: { ...blank, Type: 'ProcessNotFoundError', Message: 'unknown process: p', ProcessID: 'p' },
    });
    expect(toGardenError(new ExecutableNotFoundError('/x'))).toMatchObject({ status: 500, body: { Type: 'ExecutableNotFoundError', Binary: '/x' } });
    expect(toGardenError(new UnrecoverableError('sick'))).toMatchObject({ status: 500, body: { Type: 'UnrecoverableError', Message: 'sick' } });
    expect(toGardenError(new Error('boom'))).toEqual({ status: 500, body: { ...blank, Type: '', Message: 'boom' } });
  });
});
