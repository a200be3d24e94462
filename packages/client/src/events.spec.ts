import { ContainerNotFoundError, InvalidArgumentError, arborVersion } from '@arbor/core';
import type { ArborEvent } from '@arbor/core';
import { startFixture } from './arbord-fixture.testkit';
import type { ArbordFixture } from './arbord-fixture.testkit';

// End to end: GrpcClient -> arbord (in-process, fake backend) -> Gardener, and back.

/** take reads n events, or fails after timeoutMs. */
async function take(events: AsyncIterator<ArborEvent>, n: number, timeoutMs = 5000): Promise<ArborEvent[]> {
  const out: ArborEvent[] = [];
  const deadline = setTimeout(() => void events.return?.(), timeoutMs);
  try {
    while (out.length < n) {
      const r = await events.next();
      if (r.done) throw new Error(`events ended after ${JSON.stringify(out)}`);
      out.push(r.value);
    }
  } finally {
    clearTimeout(deadline);
  }
  return out;
}

describe('Events over gRPC', () => {
  let f: ArbordFixture;
  beforeEach(async () => {
    f = await startFixture();
  });
  afterEach(async () => {
    await f.stop();
  });

  it('sees created, process-exited with the code, stopped and destroyed, in order', async () => {
    const abort = new AbortController();
    const events = await f.client.events({}, abort.signal);
    const c = await f.client.create({ handle: 'ev-1' });
    const p = await c.run({ path: 'sh', args: ['-c', 'exit 3'], id: 'job' }, {});
    expect(await p.wait()).toBe(3);
    await c.stop(false);
    await f.client.destroy('ev-1');
    const got = await take(events, 4);
    abort.abort();
    expect(got.map((e) => e.kind)).toEqual(['created', 'process-exited', 'stopped', 'destroyed']);
    expect(got[1]).toMatchObject({ handle: 'ev-1', processId: 'job', exitCode: 3, message: 'process job exited with 3' });
    for (const e of got) {
      expect(e.handle).toBe('ev-1');
      expect(Math.abs(e.timeMs - Date.now())).toBeLessThan(60_000);
    }
    expect(got[0]).not.toHaveProperty('exitCode');
    expect(await events.next()).toEqual({ value: undefined, done: true });
  });

  it("ends a follower's stream when arbord stops, and the stop does not wait for it", async () => {
    // a long shutdown timeout: before Events calls were ended first, stop waited all of it
    const slow = await startFixture({}, { shutdownTimeoutMs: 60_000 });
    try {
      const events = await slow.client.events();
      const ended = events.next();
      await slow.arbord.stop();
      await expect(ended).resolves.toEqual({ value: undefined, done: true });
    } finally {
      await slow.stop();
    }
  }, 10_000);

  it("says 'reaped' for a container destroyed by its grace time", async () => {
    const events = await f.client.events({ handles: ['ev-reap'] });
    await f.client.create({ handle: 'ev-reap', graceTimeMs: 100 });
    expect((await take(events, 2)).map((e) => e.kind)).toEqual(['created', 'reaped']);
    await events.return?.();
    await expect(f.client.lookup('ev-reap')).rejects.toBeInstanceOf(ContainerNotFoundError);
  });

  it('gives only the handles asked for, and refuses a bad one before sending', async () => {
    const events = await f.client.events({ handles: ['ev-b'] });
    await f.client.create({ handle: 'ev-a' });
    await f.client.create({ handle: 'ev-b' });
    expect((await take(events, 1)).map((e) => `${e.kind}:${e.handle}`)).toEqual(['created:ev-b']);
    await events.return?.();
    await expect(f.client.events({ handles: ['a/b'] })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('lets a subscriber leave by breaking out of the loop; the server forgets it', async () => {
    const events = await f.client.events();
    await f.client.create({ handle: 'ev-c' });
    for await (const e of events) {
      expect(e.kind).toBe('created');
      break;
    }
    await f.client.destroy('ev-c');
    expect(await f.client.containers()).toEqual([]);
  });

  it("reports the server's version in Ping", async () => {
    expect(await f.client.serverVersion()).toBe(arborVersion());
    expect(arborVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
