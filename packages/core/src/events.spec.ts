import type { Process } from './client';
import { ResourceExhaustedError } from './errors';
import { GardenerEvents, OOM_INFO_EVENT } from './events';
import { Gardener } from './gardener';
import { silentLogger } from './logger';
import type { Clock, ContainerRecord, Containerizer, Depot, Networker, Timer, Volumizer } from './ports';
import type { ArborEvent } from './types';

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

/** exitable is a Process whose exit the test decides. */
function exitable(id: string): Process & { exit(code: number): void } {
  let exit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => (exit = resolve));
  return { id, wait: () => exited, setTty: jest.fn(), signal: jest.fn(), exit: (code) => exit(code) };
}

function ports(events?: GardenerEvents) {
  const processes = new Map<string, ReturnType<typeof exitable>>();
  const infoEvents: string[] = [];
  const containerizer = {
    create: jest.fn(async () => ({ netnsPath: '' })),
    destroy: jest.fn(async () => undefined),
    stop: jest.fn(async () => undefined),
    run: jest.fn(async (_h: string, spec: { id: string }) => {
      const p = exitable(spec.id);
      processes.set(spec.id, p);
      return p;
    }),
    attach: jest.fn(async (_h: string, id: string) => processes.get(id) ?? exitable(id)),
    streamIn: jest.fn(),
    streamOut: jest.fn(),
    info: jest.fn(async () => ({ state: 'active' as const, events: [...infoEvents], processIds: [], containerPath: '' })),
    metrics: jest.fn(),
    limit: jest.fn(),
    handles: jest.fn(async (): Promise<string[]> => []),
    capacity: jest.fn(async () => ({ memoryInBytes: 1 << 30, maxContainers: 100 })),
  } satisfies Containerizer;
  const networker = {
    setup: jest.fn(async () => ({ hostIp: '', containerIp: '', externalIp: '', subnet: '' })),
    netIn: jest.fn(),
    netOut: jest.fn(),
    limitBandwidth: jest.fn(),
    metrics: jest.fn(),
    destroy: jest.fn(async () => undefined),
    restore: jest.fn(async () => undefined),
  } satisfies Networker;
  const volumizer = {
    create: jest.fn(async () => ({ path: '', env: [], user: '', workingDir: '', entrypoint: [], cmd: [] })),
    destroy: jest.fn(async () => undefined),
    limitDisk: jest.fn(),
    metrics: jest.fn(),
    capacity: jest.fn(async () => ({ diskInBytes: 0, schedulableDiskInBytes: 0 })),
  } satisfies Volumizer;
  const saved = new Map<string, ContainerRecord>();
  const depot: Depot = {
    save: async (r) => void saved.set(r.handle, structuredClone(r)),
    load: async (h) => structuredClone(saved.get(h)),
    remove: async (h) => void saved.delete(h),
    list: async () => [...saved.values()],
  };
  const clock = new ManualClock();
  const gardener = new Gardener({
    containerizer,
    networker,
    volumizer,
    depot,
    clock,
    logger: silentLogger,
    handleGenerator: { generate: () => 'p1' },
    config: { defaultGraceTimeMs: 0, maxContainers: 0 },
    ...(events && { events }),
  });
  return { gardener, containerizer, processes, infoEvents, clock };
}

/** settle lets promise callbacks (a process's exit, a destroy) run. */
const settle = () => new Promise((r) => setImmediate(r));

/** take reads n events. */
async function take(events: AsyncIterator<ArborEvent>, n: number): Promise<ArborEvent[]> {
  const out: ArborEvent[] = [];
  while (out.length < n) {
    const r = await events.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('Gardener events', () => {
  it('publishes created, process-exited with the code, stopped and destroyed, in order, with the time', async () => {
    const p = ports();
    const events = await p.gardener.events();
    const c = await p.gardener.create({ handle: 'h' });
    await c.run({ path: 'x', id: 'job' }, {});
    p.processes.get('job')?.exit(3);
    await settle();
    await c.stop(false);
    await p.gardener.destroy('h');
    const got = await take(events, 4);
    expect(got.map((e) => e.kind)).toEqual(['created', 'process-exited', 'stopped', 'destroyed']);
    expect(got[1]).toEqual({ kind: 'process-exited', handle: 'h', processId: 'job', exitCode: 3, timeMs: 1_000_000, message: 'process job exited with 3' });
    expect(got.every((e) => e.handle === 'h' && e.timeMs === 1_000_000 && e.message !== '')).toBe(true);
  });

  it('publishes one exit for a process that was run and attached', async () => {
    const p = ports();
    const events = await p.gardener.events();
    const c = await p.gardener.create({ handle: 'h' });
    await c.run({ path: 'x', id: 'job' }, {});
    await c.attach('job', {});
    p.processes.get('job')?.exit(0);
    await settle();
    await p.gardener.destroy('h');
    expect((await take(events, 3)).map((e) => `${e.kind}:${e.exitCode ?? ''}`)).toEqual(['created:', 'process-exited:0', 'destroyed:']);
  });

  it("publishes 'reaped', not 'destroyed', when the grace time passes", async () => {
    const p = ports();
    const events = await p.gardener.events();
    await p.gardener.create({ handle: 'h', graceTimeMs: 1000 });
    p.clock.advance(1000);
    await settle();
    expect((await take(events, 2)).map((e) => e.kind)).toEqual(['created', 'reaped']);
  });

  it("publishes nothing for a failed create's rollback", async () => {
    const p = ports();
    const events = await p.gardener.events();
    p.containerizer.create.mockRejectedValueOnce(new Error('no'));
    await expect(p.gardener.create({ handle: 'bad' })).rejects.toThrow('no');
    await p.gardener.create({ handle: 'good' });
    expect((await take(events, 1)).map((e) => `${e.kind}:${e.handle}`)).toEqual(['created:good']);
  });

  it("publishes 'oom' once, after the exit that the containerizer's Info shows an OOM kill for", async () => {
    const p = ports();
    const events = await p.gardener.events();
    const c = await p.gardener.create({ handle: 'h' });
    await c.run({ path: 'x', id: 'a' }, {});
    await c.run({ path: 'x', id: 'b' }, {});
    p.infoEvents.push(OOM_INFO_EVENT);
    p.processes.get('a')?.exit(137);
    await settle();
    p.processes.get('b')?.exit(137);
    await settle();
    await p.gardener.destroy('h');
    expect((await take(events, 5)).map((e) => e.kind)).toEqual(['created', 'process-exited', 'oom', 'process-exited', 'destroyed']);
  });

  it('does not ask Info about OOM when nobody subscribes', async () => {
    const p = ports();
    const c = await p.gardener.create({ handle: 'h' });
    await c.run({ path: 'x', id: 'a' }, {});
    p.processes.get('a')?.exit(137);
    await settle();
    expect(p.containerizer.info).not.toHaveBeenCalled();
  });

  it('gives only the events of the handles asked for, and refuses a bad handle', async () => {
    const p = ports();
    const events = await p.gardener.events({ handles: ['b'] });
    await p.gardener.create({ handle: 'a' });
    await p.gardener.create({ handle: 'b' });
    expect((await take(events, 1)).map((e) => e.handle)).toEqual(['b']);
    await expect(p.gardener.events({ handles: ['a/b'] })).rejects.toThrow(/handle/);
  });

  it('ends the iteration when the signal aborts, and when the Gardener stops', async () => {
    const p = ports();
    const abort = new AbortController();
    const aborted = await p.gardener.events({}, abort.signal);
    const stopped = await p.gardener.events();
    const pending = aborted.next();
    abort.abort();
    expect(await pending).toEqual({ value: undefined, done: true });
    await p.gardener.stop();
    expect(await stopped.next()).toEqual({ value: undefined, done: true });
  });

  it('drops a subscriber that falls behind by the queue limit with ResourceExhaustedError, without holding up the Gardener or others', async () => {
    const p = ports(new GardenerEvents(3));
    const slow = await p.gardener.events();
    const fast = await p.gardener.events();
    const seen: string[] = [];
    void (async () => {
      for await (const e of fast) seen.push(e.handle);
    })();
    for (const h of ['a', 'b', 'c', 'd', 'e']) await p.gardener.create({ handle: h });
    await settle();
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
    const err = await slow.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ResourceExhaustedError);
    expect((err as Error).message).toMatch(/^events: subscriber fell behind by 3 events/);
    await p.gardener.stop();
  });
});

describe('GardenerEvents', () => {
  it('counts subscribers and forgets one that returns', async () => {
    const hub = new GardenerEvents();
    const sub = hub.subscribe();
    expect(hub.subscribers).toBe(1);
    await sub.return?.();
    expect(hub.subscribers).toBe(0);
    hub.publish({ kind: 'created', handle: 'h', timeMs: 1, message: '' });
    expect(await sub.next()).toEqual({ value: undefined, done: true });
  });

  it('gives nothing to a subscription whose signal had already aborted', async () => {
    const hub = new GardenerEvents();
    const sub = hub.subscribe({}, AbortSignal.abort());
    expect(hub.subscribers).toBe(0);
    expect(await sub.next()).toEqual({ value: undefined, done: true });
  });
});
