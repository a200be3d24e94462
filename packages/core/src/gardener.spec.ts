import { PassThrough } from 'node:stream';
import { RecordingLogger } from '@arbor/testkit';
import type { Process } from './client';
import { ArborError, ContainerNotFoundError, HandleAlreadyExistsError, InvalidArgumentError, PropertyNotFoundError, ResourceExhaustedError } from './errors';
import { Gardener } from './gardener';
import type { CallContext } from './call-context';
import { silentLogger } from './logger';
import type { Clock, ContainerRecord, Containerizer, Depot, GardenerConfig, Networker, Timer, Volumizer } from './ports';

/** ManualClock runs timers only when the test advances time. */
class ManualClock implements Clock {
  private time = 1_000_000;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.time;
  }
  setTimer(ms: number, fn: () => void): Timer {
    const t = { at: this.time + ms, fn, live: true };
    this.timers.push(t);
    return { cancel: () => (t.live = false) };
  }
  advance(ms: number): void {
    this.time += ms;
    for (const t of this.timers.filter((x) => x.live && x.at <= this.time)) {
      t.live = false;
      t.fn();
    }
  }
}

/** MemoryDepot keeps copies, as a disk would. */
class MemoryDepot implements Depot {
  readonly saved = new Map<string, ContainerRecord>();
  save = jest.fn(async (r: ContainerRecord) => void this.saved.set(r.handle, structuredClone(r)));
  load = jest.fn(async (h: string) => structuredClone(this.saved.get(h)));
  remove = jest.fn(async (h: string) => void this.saved.delete(h));
  list = jest.fn(async () => [...this.saved.values()].map((r) => structuredClone(r)));
}

function fakeProcess(exit: Promise<number>): Process {
  return { id: 'p1', wait: () => exit, setTty: jest.fn(), signal: jest.fn() };
}

function ports(config: Partial<GardenerConfig> = {}) {
  const calls: string[] = [];
  const track = <T>(name: string, value: T) =>
    jest.fn(async () => {
      calls.push(name);
      return value;
    });
  const containerizer = {
    create: track('containerizer.create', { netnsPath: '/proc/42/ns/net' }),
    destroy: track('containerizer.destroy', undefined),
    stop: track('containerizer.stop', undefined),
    run: jest.fn(async () => fakeProcess(new Promise<number>(() => undefined))),
    attach: jest.fn(),
    streamIn: jest.fn(async () => undefined),
    streamOut: jest.fn(),
    info: jest.fn(async () => ({ state: 'active' as const, events: [], processIds: [], containerPath: '/depot/x' })),
    metrics: jest.fn(),
    limit: track('containerizer.limit', undefined),
    handles: jest.fn(async (): Promise<string[]> => []),
    capacity: jest.fn(async () => ({ memoryInBytes: 1 << 30, maxContainers: 100 })),
  } satisfies Containerizer;
  const networker = {
    setup: track('networker.setup', { hostIp: '10.254.0.1', containerIp: '10.254.0.2', externalIp: '192.0.2.1', subnet: '10.254.0.0/30' }),
    netIn: jest.fn(async (_h: string, host: number, container: number) => {
      calls.push('networker.netIn');
      return { hostPort: host || 61001, containerPort: container || host || 61001 };
    }),
    netOut: track('networker.netOut', undefined),
    limitBandwidth: track('networker.limitBandwidth', undefined),
    metrics: jest.fn(),
    destroy: track('networker.destroy', undefined),
    restore: jest.fn(async () => undefined),
  } satisfies Networker;
  const volumizer = {
    create: track('volumizer.create', {
      path: '/rootfs/x',
      env: ['IMAGE=1', 'SHARED=image'],
      user: 'vcap',
      workingDir: '/app',
      entrypoint: [],
      cmd: [],
    }),
    destroy: track('volumizer.destroy', undefined),
    limitDisk: track('volumizer.limitDisk', undefined),
    metrics: jest.fn(),
    capacity: jest.fn(async () => ({ diskInBytes: 1 << 30, schedulableDiskInBytes: 1 << 30 })),
  } satisfies Volumizer;
  const depot = new MemoryDepot();
  const clock = new ManualClock();
  let next = 0;
  const gardener = new Gardener({
    containerizer,
    networker,
    volumizer,
    depot,
    clock,
    logger: silentLogger,
    handleGenerator: { generate: () => `gen-${++next}` },
    config: { defaultGraceTimeMs: 0, maxContainers: 0, ...config },
  });
  return { gardener, containerizer, networker, volumizer, depot, clock, calls };
}

describe('Gardener.create', () => {
  it('runs the steps in order and saves the record before the first step', async () => {
    const p = ports();
    p.depot.save.mockImplementationOnce(async (r) => {
      p.calls.push(`depot.save:${r.phase}`);
      p.depot.saved.set(r.handle, structuredClone(r));
    });
    await p.gardener.create({
      handle: 'web',
      netIn: [{ hostPort: 8080, containerPort: 80 }],
      netOut: [{ protocol: 'tcp', ports: [{ start: 443, end: 443 }] }],
      limits: { bandwidth: { rateInBytesPerSecond: 100, burstRateInBytesPerSecond: 200 } },
    });
    expect(p.calls).toEqual([
      'depot.save:creating',
      'volumizer.create',
      'containerizer.create',
      'networker.setup',
      'networker.netIn',
      'networker.netOut',
      'networker.limitBandwidth',
    ]);
    expect(p.depot.saved.get('web')?.phase).toBe('created');
    expect(p.networker.setup).toHaveBeenCalledWith(
      'web',
      {
        network: '',
        netnsPath: '/proc/42/ns/net',
        rootfsPath: '/rootfs/x',
        hostname: 'web',
      },
      undefined,
    );
  });

  it("takes a user-namespace container's ids from the containerizer before its rootfs is made, and gives them to the volumizer", async () => {
    const p = ports();
    const ids = { hostId: 1_000_065_536, size: 65536 };
    const reserveUserIds = jest.fn(async (_handle: string, privileged: boolean) => {
      p.calls.push('containerizer.reserveUserIds');
      return privileged ? undefined : ids;
    });
    const containerizer: Containerizer = Object.assign(p.containerizer, { reserveUserIds });
    expect(containerizer.reserveUserIds).toBe(reserveUserIds);
    await p.gardener.create({ handle: 'web' });
    expect(p.calls.slice(0, 3)).toEqual(['containerizer.reserveUserIds', 'volumizer.create', 'containerizer.create']);
    expect(reserveUserIds).toHaveBeenCalledWith('web', false);
    expect(p.volumizer.create).toHaveBeenLastCalledWith('web', { uri: '' }, undefined, undefined, ids);
    await p.gardener.create({ handle: 'root', privileged: true });
    expect(reserveUserIds).toHaveBeenLastCalledWith('root', true);
    expect(p.volumizer.create).toHaveBeenLastCalledWith('root', { uri: '' }, undefined, undefined, undefined);
  });

  it('gives the containerizer the last 49 characters of the handle as hostname and the merged env', async () => {
    const p = ports();
    const handle = 'h'.repeat(20) + 'x'.repeat(49);
    await p.gardener.create({ handle, env: ['SHARED=spec', 'SPEC=1'] });
    const desired = p.containerizer.create.mock.calls[0] as unknown as [{ hostname: string; env: string[] }];
    expect(desired[0].hostname).toBe('x'.repeat(49));
    expect(desired[0].env).toEqual(['IMAGE=1', 'SHARED=spec', 'SPEC=1']);
  });

  it('generates distinct handles when none is given', async () => {
    const p = ports();
    const a = await p.gardener.create({});
    const b = await p.gardener.create({});
    expect(a.handle).not.toBe(b.handle);
  });

  it('refuses a duplicate handle, even while the first create is in flight', async () => {
    const p = ports();
    const first = p.gardener.create({ handle: 'dup' });
    await expect(p.gardener.create({ handle: 'dup' })).rejects.toThrow(HandleAlreadyExistsError);
    await first;
    await expect(p.gardener.create({ handle: 'dup' })).rejects.toThrow("Handle 'dup' already in use");
  });

  it('refuses bad input before touching any port', async () => {
    const p = ports();
    await expect(p.gardener.create({ handle: '../etc' })).rejects.toThrow(InvalidArgumentError);
    await expect(p.gardener.create({ limits: { memory: { limitInBytes: -1 } } })).rejects.toThrow(/limits\.memory\.limitInBytes/);
    await expect(p.gardener.create({ netOut: [{ protocol: 'tcp', networks: [{ start: '10.0.0.300', end: '10.0.0.1' }] }] })).rejects.toThrow(
      /netOut\[0\]\.networks\[0\]\.start/,
    );
    expect(p.calls).toEqual([]);
    expect(p.depot.save).not.toHaveBeenCalled();
  });

  it('refuses to go past max containers and creates nothing', async () => {
    const p = ports();
    p.containerizer.capacity.mockResolvedValue({ memoryInBytes: 1, maxContainers: 1 });
    await p.gardener.create({ handle: 'one' });
    await expect(p.gardener.create({ handle: 'two' })).rejects.toThrow(ResourceExhaustedError);
    expect((await p.gardener.containers()).map((c) => c.handle)).toEqual(['one']);
  });

  it("stops at the networker's pool even when maxContainers is set higher", async () => {
    const p = ports({ maxContainers: 1000 });
    const networker = Object.assign(p.networker, { capacity: jest.fn(async () => ({ maxContainers: 1 })) });
    await p.gardener.create({ handle: 'one' });
    await expect(p.gardener.create({ handle: 'two' })).rejects.toThrow(/max containers reached \(1\)/);
    expect(networker.capacity).toHaveBeenCalled();
  });

  describe.each([
    ['volumizer.create', (p: ReturnType<typeof ports>) => p.volumizer.create],
    ['containerizer.create', (p: ReturnType<typeof ports>) => p.containerizer.create],
    ['networker.setup', (p: ReturnType<typeof ports>) => p.networker.setup],
    ['networker.netIn', (p: ReturnType<typeof ports>) => p.networker.netIn],
    ['networker.netOut', (p: ReturnType<typeof ports>) => p.networker.netOut],
  ])('when %s fails', (_step, pick) => {
    it('destroys everything, rethrows, lists nothing and frees the handle', async () => {
      const p = ports();
      (pick(p) as jest.Mock).mockRejectedValueOnce(new Error('boom'));
      await expect(p.gardener.create({ handle: 'h', netIn: [{ hostPort: 1, containerPort: 2 }], netOut: [{ protocol: 'all' }] })).rejects.toThrow('boom');
      expect(p.containerizer.destroy).toHaveBeenCalledWith('h', undefined);
      expect(p.networker.destroy).toHaveBeenCalledWith('h', undefined);
      expect(p.volumizer.destroy).toHaveBeenCalledWith('h', undefined);
      expect(p.depot.saved.has('h')).toBe(false);
      expect(await p.gardener.containers()).toEqual([]);
      await expect(p.gardener.create({ handle: 'h' })).resolves.toBeDefined();
    });
  });

  it('keeps the record when cleanup fails, so destroy can be retried', async () => {
    const p = ports();
    p.containerizer.create.mockRejectedValueOnce(new Error('boom'));
    p.networker.destroy.mockRejectedValueOnce(new Error('veth busy'));
    await expect(p.gardener.create({ handle: 'h' })).rejects.toThrow('boom');
    expect(p.depot.saved.get('h')?.phase).toBe('destroying');
    expect(await p.gardener.containers()).toEqual([]);
    await p.gardener.destroy('h');
    expect(p.depot.saved.has('h')).toBe(false);
  });
});

describe('Gardener.capacity', () => {
  const withPool = (p: ReturnType<typeof ports>, poolSize: number) =>
    Object.assign(p.networker, { capacity: jest.fn(async () => ({ maxContainers: poolSize })) });

  it("reports the networker's pool as maxContainers when none is configured", async () => {
    const p = ports();
    withPool(p, 64);
    expect((await p.gardener.capacity()).maxContainers).toBe(64);
  });

  it('reports the smallest of the configured cap, the containerizer and the pool', async () => {
    const under = ports({ maxContainers: 10 });
    withPool(under, 64);
    expect((await under.gardener.capacity()).maxContainers).toBe(10);
    const over = ports({ maxContainers: 1000 });
    withPool(over, 64);
    expect((await over.gardener.capacity()).maxContainers).toBe(64);
    const big = ports();
    withPool(big, 1024);
    expect((await big.gardener.capacity()).maxContainers).toBe(100);
  });

  it("takes the containerizer's when the networker has no pool", async () => {
    expect((await ports().gardener.capacity()).maxContainers).toBe(100);
    expect((await ports({ maxContainers: 7 }).gardener.capacity()).maxContainers).toBe(7);
  });
});

describe('Gardener NetIn host ports', () => {
  const netInHostPorts = { allowed: [{ start: 1024, end: 65535 }], reserved: [7777] };

  it('refuses an explicit host port outside the allowed ones, saying how to widen them, without asking the networker', async () => {
    const p = ports({ netInHostPorts });
    const c = await p.gardener.create({ handle: 'web' });
    for (const port of [22, 1023]) {
      const refused = c.netIn(port, 8080);
      await expect(refused).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(refused).rejects.toMatchObject({ field: 'netIn.hostPort' });
      await expect(refused).rejects.toThrow(`${port} is outside the host ports NetIn may take (1024-65535)`);
      await expect(refused).rejects.toThrow(/netInAllowedPorts/);
    }
    await expect(c.netIn(7777, 80)).rejects.toMatchObject({ kind: 'invalidArgument', field: 'netIn.hostPort' });
    expect(p.networker.netIn).not.toHaveBeenCalled();
    expect(await c.netIn(0, 80)).toEqual({ hostPort: 61001, containerPort: 80 });
    expect(await c.netIn(1024, 80)).toEqual({ hostPort: 1024, containerPort: 80 });
    expect((await c.info()).mappedPorts).toEqual([
      { hostPort: 61001, containerPort: 80 },
      { hostPort: 1024, containerPort: 80 },
    ]);
  });

  it('refuses a create asking for such a port before any step', async () => {
    const p = ports({ netInHostPorts });
    await expect(
      p.gardener.create({
        handle: 'ssh',
        netIn: [
          { hostPort: 0, containerPort: 80 },
          { hostPort: 22, containerPort: 22 },
        ],
      }),
    ).rejects.toMatchObject({
      kind: 'invalidArgument',
      field: 'netIn[1].hostPort',
    });
    expect(p.calls).toEqual([]);
    expect(await p.gardener.containers()).toEqual([]);
  });

  it('allows every port when not configured, as Garden does', async () => {
    const c = await ports().gardener.create({ handle: 'any' });
    expect(await c.netIn(22, 22)).toEqual({ hostPort: 22, containerPort: 22 });
  });
});

describe('Gardener.destroy', () => {
  it('tries every part, reports all failures, and finishes on retry', async () => {
    const p = ports();
    await p.gardener.create({ handle: 'h' });
    p.networker.destroy.mockRejectedValueOnce(new Error('net'));
    p.containerizer.destroy.mockRejectedValueOnce(new Error('cgroup'));
    const err = await p.gardener.destroy('h').catch((e: unknown) => e);
    expect(ArborError.is(err) && err.message).toMatch(/net.*cgroup|cgroup.*net/);
    await expect(p.gardener.lookup('h')).rejects.toThrow(ContainerNotFoundError);
    await p.gardener.destroy('h');
    expect(p.depot.saved.size).toBe(0);
  });

  it('says unknown handle for a container it does not know', async () => {
    const p = ports();
    await expect(p.gardener.destroy('nope')).rejects.toThrow('unknown handle: nope');
  });

  it('joins concurrent destroys of one container', async () => {
    const p = ports();
    await p.gardener.create({ handle: 'h' });
    await Promise.all([p.gardener.destroy('h'), p.gardener.destroy('h')]);
    expect(p.containerizer.destroy).toHaveBeenCalledTimes(1);
  });
});

describe('Gardener.start', () => {
  it('restores created containers, destroys half-made ones and sweeps unknown ones', async () => {
    const p = ports();
    await p.gardener.create({ handle: 'kept', properties: { a: '1' } });
    const half = { ...structuredClone(p.depot.saved.get('kept')!), handle: 'half', phase: 'creating' as const };
    p.depot.saved.set('half', half);
    p.containerizer.handles.mockResolvedValue(['kept', 'half', 'stray']);

    const q = ports();
    for (const [h, r] of p.depot.saved) q.depot.saved.set(h, r);
    q.containerizer.handles.mockResolvedValue(['kept', 'half', 'stray']);
    await q.gardener.start();

    expect(q.networker.restore).toHaveBeenCalledWith([expect.objectContaining({ handle: 'kept' })]);
    expect(q.containerizer.destroy.mock.calls.map((c) => (c as unknown[])[0]).sort()).toEqual(['half', 'stray']);
    expect([...q.depot.saved.keys()]).toEqual(['kept']);
    const kept = await q.gardener.lookup('kept');
    expect(await kept.properties()).toEqual({ a: '1' });
  });
});

describe('Gardener properties and limits', () => {
  it('saves every property change to the depot before returning', async () => {
    const p = ports();
    const c = await p.gardener.create({ handle: 'h', properties: { a: '1' } });
    await c.setProperty('b', '2');
    expect(p.depot.saved.get('h')?.properties).toEqual({ a: '1', b: '2' });
    await c.removeProperty('a');
    expect(p.depot.saved.get('h')?.properties).toEqual({ b: '2' });
    await expect(c.property('a')).rejects.toThrow(PropertyNotFoundError);
  });

  it('filters containers by every property pair', async () => {
    const p = ports();
    await p.gardener.create({ handle: 'a', properties: { app: 'web', env: 'prod' } });
    await p.gardener.create({ handle: 'b', properties: { app: 'web', env: 'dev' } });
    const found = await p.gardener.containers({ app: 'web', env: 'dev' });
    expect(found.map((c) => c.handle)).toEqual(['b']);
  });

  it('applies live limits through the right port and records them', async () => {
    const p = ports();
    const c = await p.gardener.create({ handle: 'h' });
    await c.limitMemory({ limitInBytes: 64 << 20 });
    await c.limitDisk({ byteSoft: 0, byteHard: 10 << 20, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' });
    expect(p.containerizer.limit).toHaveBeenCalledWith('h', { memory: { limitInBytes: 64 << 20 } }, undefined);
    expect(p.volumizer.limitDisk).toHaveBeenCalled();
    expect(await c.currentMemoryLimits()).toEqual({ limitInBytes: 64 << 20 });
    expect(p.depot.saved.get('h')?.limits.memory).toEqual({ limitInBytes: 64 << 20 });
    await expect(c.limitPids({ max: -5 })).rejects.toThrow(InvalidArgumentError);
    expect(await c.currentPidLimits()).toEqual({ max: 0 });
  });

  describe('with a defaultPidLimit', () => {
    it('gives a container created without a pid limit the default, in its cgroup and in what it reports', async () => {
      const p = ports({ defaultPidLimit: 4096 });
      const c = await p.gardener.create({ handle: 'h', limits: { memory: { limitInBytes: 64 << 20 } } });
      expect(p.containerizer.create).toHaveBeenCalledWith(
        expect.objectContaining({ limits: { memory: { limitInBytes: 64 << 20 }, pid: { max: 4096 } } }),
        undefined,
      );
      expect(await c.currentPidLimits()).toEqual({ max: 4096 });
      expect(await c.currentLimits()).toEqual({ memory: { limitInBytes: 64 << 20 }, pid: { max: 4096 } });
      expect(p.depot.saved.get('h')?.limits.pid).toEqual({ max: 4096 });
    });

    it('keeps a pid limit the spec gives, lower or higher, and 0 asked for explicitly (unlimited)', async () => {
      const p = ports({ defaultPidLimit: 4096 });
      for (const max of [10, 100_000, 0]) {
        const c = await p.gardener.create({ handle: `h-${max}`, limits: { pid: { max } } });
        expect(await c.currentPidLimits()).toEqual({ max });
      }
    });

    it('lets a live limitPids change it', async () => {
      const p = ports({ defaultPidLimit: 4096 });
      const c = await p.gardener.create({ handle: 'h' });
      await c.limitPids({ max: 50 });
      expect(await c.currentPidLimits()).toEqual({ max: 50 });
    });

    it('applies none when it is 0 or absent', async () => {
      for (const config of [{ defaultPidLimit: 0 }, {}]) {
        const p = ports(config);
        const c = await p.gardener.create({ handle: 'h' });
        expect(await c.currentLimits()).toEqual({});
        expect(p.containerizer.create).toHaveBeenCalledWith(expect.objectContaining({ limits: {} }), undefined);
      }
    });
  });

  it('gives processes the image user and working dir unless the spec says otherwise', async () => {
    const p = ports();
    const c = await p.gardener.create({ handle: 'h' });
    await c.run({ path: 'true' }, {});
    await c.run({ path: 'true', user: 'root', dir: '/' }, {});
    expect(p.containerizer.run.mock.calls.map((call) => (call as unknown[])[1])).toEqual([
      expect.objectContaining({ user: 'vcap', dir: '/app', id: expect.any(String) }),
      expect.objectContaining({ user: 'root', dir: '/' }),
    ]);
  });
});

describe('Gardener grace time', () => {
  async function reaped(p: ReturnType<typeof ports>, handle: string): Promise<boolean> {
    await new Promise((r) => setImmediate(r));
    return (await p.gardener.containers()).every((c) => c.handle !== handle);
  }

  it('destroys a container untouched for its grace time', async () => {
    const p = ports();
    await p.gardener.create({ handle: 'h', graceTimeMs: 1000 });
    p.clock.advance(999);
    expect(await reaped(p, 'h')).toBe(false);
    p.clock.advance(1);
    expect(await reaped(p, 'h')).toBe(true);
  });

  it('restarts the timer in full after each request', async () => {
    const p = ports();
    const c = await p.gardener.create({ handle: 'h', graceTimeMs: 1000 });
    p.clock.advance(900);
    await c.info();
    p.clock.advance(900);
    expect(await reaped(p, 'h')).toBe(false);
    p.clock.advance(100);
    expect(await reaped(p, 'h')).toBe(true);
  });

  it('holds the timer while a process is attached, until it exits', async () => {
    const p = ports();
    let exit!: (code: number) => void;
    p.containerizer.run.mockResolvedValueOnce(fakeProcess(new Promise((r) => (exit = r))));
    const c = await p.gardener.create({ handle: 'h', graceTimeMs: 1000 });
    await c.run({ path: 'sleep', args: ['100'] }, { stdout: new PassThrough() });
    p.clock.advance(5000);
    expect(await reaped(p, 'h')).toBe(false);
    exit(0);
    await new Promise((r) => setImmediate(r));
    p.clock.advance(1000);
    expect(await reaped(p, 'h')).toBe(true);
  });

  it('lets the timer run again once the caller detaches', async () => {
    const p = ports();
    const c = await p.gardener.create({ handle: 'h', graceTimeMs: 1000 });
    const detach = new AbortController();
    await c.run({ path: 'sleep', args: ['100'] }, { detach: detach.signal });
    p.clock.advance(5000);
    expect(await reaped(p, 'h')).toBe(false);
    detach.abort();
    p.clock.advance(1000);
    expect(await reaped(p, 'h')).toBe(true);
  });

  it('never reaps with grace time 0, and setGraceTime re-arms', async () => {
    const p = ports();
    const c = await p.gardener.create({ handle: 'h', graceTimeMs: 0 });
    p.clock.advance(10 ** 9);
    expect(await reaped(p, 'h')).toBe(false);
    await c.setGraceTime(50);
    expect(await p.gardener.graceTime(c)).toBe(50);
    p.clock.advance(50);
    expect(await reaped(p, 'h')).toBe(true);
  });
});

describe('Gardener observer', () => {
  function observed() {
    const p = ports();
    const phases: string[] = [];
    const observer = {
      phase: jest.fn((op: string, phase: string, seconds: number, ok: boolean) => {
        expect(seconds).toBeGreaterThanOrEqual(0);
        phases.push(`${op}:${phase}:${ok ? 'ok' : 'failed'}`);
      }),
      imagePull: jest.fn(),
    };
    const gardener = new Gardener({
      containerizer: p.containerizer,
      networker: p.networker,
      volumizer: p.volumizer,
      depot: p.depot,
      clock: p.clock,
      logger: silentLogger,
      handleGenerator: { generate: () => 'gen-1' },
      config: { defaultGraceTimeMs: 0, maxContainers: 0 },
      observer,
    });
    return { ...p, gardener, observer, phases };
  }

  it('hears each phase of create and destroy once, with its outcome', async () => {
    const p = observed();
    await p.gardener.create({ handle: 'h', netIn: [{ hostPort: 0, containerPort: 80 }] });
    expect(p.phases).toEqual(['create:volume:ok', 'create:containerizer:ok', 'create:network:ok']);
    p.phases.length = 0;
    await p.gardener.destroy('h');
    expect([...p.phases].sort()).toEqual(['destroy:containerizer:ok', 'destroy:network:ok', 'destroy:volume:ok']);
  });

  it('hears the failed phase of a create, and the destroy that rolls it back', async () => {
    const p = observed();
    p.containerizer.create.mockRejectedValueOnce(new Error('boom'));
    p.networker.destroy.mockRejectedValueOnce(new Error('veth busy'));
    await expect(p.gardener.create({ handle: 'h' })).rejects.toThrow('boom');
    expect(p.phases.slice(0, 2)).toEqual(['create:volume:ok', 'create:containerizer:failed']);
    expect([...p.phases.slice(2)].sort()).toEqual(['destroy:containerizer:ok', 'destroy:network:failed', 'destroy:volume:ok']);
  });

  it('hears image pulls with their outcome', async () => {
    const p = observed();
    await p.gardener.pullImage({ uri: 'raw:///x' });
    await expect(p.gardener.pullImage({ uri: 42 as unknown as string })).rejects.toThrow(InvalidArgumentError);
    expect(p.observer.imagePull.mock.calls.map((c) => c[1])).toEqual([true, false]);
  });

  it('sample reads state, processes and metrics without restarting the grace timer', async () => {
    const p = ports();
    p.containerizer.info.mockResolvedValue({ state: 'active', events: [], processIds: ['a', 'b'] as never[], containerPath: '/depot/h' });
    p.containerizer.metrics.mockResolvedValue({ memory: { usageInBytes: 5 }, cpu: { usage: 7 }, pid: { current: 2, max: 0 } });
    p.volumizer.metrics.mockResolvedValue({ totalBytesUsed: 11 });
    p.networker.metrics.mockResolvedValue({ rxBytes: 1, txBytes: 2 });
    await p.gardener.create({ handle: 'h', graceTimeMs: 1000 });
    p.clock.advance(900);
    const sample = await p.gardener.sample('h');
    expect(sample).toMatchObject({
      handle: 'h',
      state: 'active',
      processes: 2,
      metrics: { cpu: { usage: 7 }, disk: { totalBytesUsed: 11 }, network: { txBytes: 2 }, ageMs: 900 },
    });
    p.clock.advance(100);
    await new Promise((r) => setImmediate(r));
    expect(await p.gardener.containers()).toEqual([]);
    await expect(p.gardener.sample('h')).rejects.toThrow(ContainerNotFoundError);
  });

  it('metrics reports what it can read when the network counters cannot be, leaving network out', async () => {
    const p = ports();
    p.containerizer.metrics.mockResolvedValue({ memory: { usageInBytes: 5 }, cpu: { usage: 7 }, pid: { current: 2, max: 0 } });
    p.volumizer.metrics.mockResolvedValue({ totalBytesUsed: 11 });
    p.networker.metrics.mockRejectedValue(new ArborError('internal', "network: no statistics for 'h': its host veth is gone"));
    await p.gardener.create({ handle: 'h' });
    const metrics = await p.gardener.metrics('h');
    expect(metrics).toMatchObject({ memory: { usageInBytes: 5 }, cpu: { usage: 7 }, disk: { totalBytesUsed: 11 }, pid: { current: 2 } });
    expect(metrics).not.toHaveProperty('network');
    expect((await p.gardener.sample('h')).metrics).not.toHaveProperty('network');
    // a container that is gone is still an error, not a metrics without network
    p.networker.metrics.mockRejectedValue(new ContainerNotFoundError('h'));
    await expect(p.gardener.metrics('h')).rejects.toThrow(ContainerNotFoundError);
  });
});

describe('Gardener per-call logger', () => {
  /** call is one client call's context: what it logs lands in lines with { requestId }. */
  const call = (requestId: string) => {
    const lines: Record<string, unknown>[] = [];
    const ctx: CallContext = { logger: new RecordingLogger(lines).child({ requestId }) };
    return { lines, ctx };
  };
  /** ctxOf is the CallContext a port was given: the argument after the port's own, undefined when none. */
  const ctxOf = (mock: jest.Mock, ownArgs: number, callIndex = 0): CallContext | undefined =>
    (mock.mock.calls[callIndex] as unknown[])[ownArgs] as CallContext | undefined;
  /** logsAs has the port log through the context it got and returns the line written. */
  const logsAs = (ctx: CallContext | undefined, lines: Record<string, unknown>[]) => {
    ctx?.logger.info('port-step');
    return lines.find((l) => l['event'] === 'port-step');
  };

  it("hands each port of a create the call's logger with the handle, and logs the create with it", async () => {
    const p = ports();
    const steps: Array<[string, jest.Mock, number]> = [
      ['volumizer.create', p.volumizer.create, 3],
      ['containerizer.create', p.containerizer.create, 1],
      ['networker.setup', p.networker.setup, 2],
      ['networker.netIn', p.networker.netIn, 3],
      ['networker.netOut', p.networker.netOut, 2],
    ];
    for (const [name, mock, ownArgs] of steps) {
      const c = call('r-create');
      await p.gardener.create({ handle: `web-${name}`, netIn: [{ hostPort: 0, containerPort: 80 }], netOut: [{ protocol: 'all' }] }, c.ctx);
      expect([name, logsAs(ctxOf(mock, ownArgs, mock.mock.calls.length - 1), c.lines)]).toEqual([
        name,
        { event: 'port-step', requestId: 'r-create', handle: `web-${name}` },
      ]);
      expect(c.lines).toContainEqual({ event: 'create-started', requestId: 'r-create', handle: `web-${name}` });
    }
  });

  it('hands the ports the logger of the call that looked the container up, through its Container', async () => {
    const p = ports();
    p.containerizer.metrics.mockResolvedValue({});
    p.volumizer.metrics.mockResolvedValue({});
    p.networker.metrics.mockResolvedValue({});
    await p.gardener.create({ handle: 'h' });
    const c = call('r-lookup');
    const container = await p.gardener.lookup('h', c.ctx);
    await container.run({ path: 'true' }, {});
    await container.info();
    await container.metrics();
    await container.limitMemory({ limitInBytes: 64 << 20 });
    await container.stop(false);
    for (const [mock, ownArgs] of [
      [p.containerizer.run, 3],
      [p.containerizer.info, 1],
      [p.containerizer.metrics, 1],
      [p.volumizer.metrics, 1],
      [p.networker.metrics, 1],
      [p.containerizer.limit, 2],
      [p.containerizer.stop, 2],
    ] as Array<[jest.Mock, number]>) {
      c.lines.length = 0;
      expect(logsAs(ctxOf(mock, ownArgs), c.lines)).toEqual({ event: 'port-step', requestId: 'r-lookup', handle: 'h' });
    }
  });

  it("hands every part of a destroy the destroying call's logger", async () => {
    const p = ports();
    await p.gardener.create({ handle: 'h' });
    const c = call('r-destroy');
    await p.gardener.destroy('h', c.ctx);
    for (const mock of [p.containerizer.destroy, p.volumizer.destroy, p.networker.destroy] as jest.Mock[]) {
      c.lines.length = 0;
      expect(logsAs(ctxOf(mock, 1), c.lines)).toEqual({ event: 'port-step', requestId: 'r-destroy', handle: 'h' });
    }
  });

  it("hands the volumizer's pull the call's logger, with the image's uri", async () => {
    const p = ports();
    const pull = jest.fn(async () => ({ id: 'sha256:1', layers: 1, env: [], user: '', workingDir: '', entrypoint: [], cmd: [] }));
    Object.assign(p.volumizer, { pull });
    const c = call('r-pull');
    await p.gardener.pullImage({ uri: 'docker:///busybox' }, undefined, c.ctx);
    expect(c.lines).toContainEqual({ event: 'pull-started', requestId: 'r-pull', uri: 'docker:///busybox' });
    c.lines.length = 0;
    expect(logsAs(ctxOf(pull, 2), c.lines)).toEqual({ event: 'port-step', requestId: 'r-pull', uri: 'docker:///busybox' });
  });

  it('gives the ports no context for a call without one, so they log with their own loggers', async () => {
    const p = ports();
    const c = await p.gardener.create({ handle: 'h' });
    await c.info();
    await p.gardener.destroy('h');
    expect(ctxOf(p.volumizer.create, 3)).toBeUndefined();
    expect(ctxOf(p.containerizer.info, 1)).toBeUndefined();
    expect(ctxOf(p.networker.destroy, 1)).toBeUndefined();
  });
});
