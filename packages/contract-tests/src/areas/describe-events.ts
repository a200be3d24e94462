import type { ArborEvent } from '@arbor/core';
import type { ContractContext } from '../contract-context';
import { steps } from '@arbor/probes';
import { probeWith, runToEnd } from '../helpers/run-process';

/** take reads n events, failing (not hanging) when they do not come within timeoutMs. */
async function take(events: AsyncIterator<ArborEvent>, n: number, timeoutMs = 5000): Promise<ArborEvent[]> {
  const out: ArborEvent[] = [];
  const deadline = setTimeout(() => void events.return?.(), timeoutMs);
  try {
    while (out.length < n) {
      const r = await events.next();
      if (r.done) throw new Error(`events: the stream ended after ${JSON.stringify(out.map((e) => e.kind))}; wanted ${n}`);
      out.push(r.value);
    }
  } finally {
    clearTimeout(deadline);
  }
  return out;
}

/** summary is what every backend must agree on: kind, and for an exit the process and code. */
function summary(e: ArborEvent): string {
  return e.kind === 'process-exited' ? `${e.kind} ${e.processId ?? ''} ${e.exitCode ?? ''}` : e.kind;
}

export function describeEvents(ctx: ContractContext): void {
  describe('events', () => {
    it('shows created, process-exited with the code, stopped and destroyed, in order', async () => {
      const handle = ctx.unique('events');
      const stop = new AbortController();
      const events = await ctx.client.events({ handles: [handle] }, stop.signal);
      try {
        const container = await ctx.create({ handle });
        expect((await runToEnd(container, probeWith({ id: 'ev-exit' }, steps.exit(3)))).exitCode).toBe(3);
        await container.stop(true);
        await ctx.client.destroy(handle);
        const got = await take(events, 4);
        expect(got.map(summary)).toEqual(['created', 'process-exited ev-exit 3', 'stopped', 'destroyed']);
        expect(got.every((e) => e.handle === handle && e.timeMs > 0 && e.message !== '')).toBe(true);
      } finally {
        stop.abort();
      }
    });

    it("says 'reaped', not 'destroyed', when the grace time passes", async () => {
      const handle = ctx.unique('events-reap');
      const stop = new AbortController();
      const events = await ctx.client.events({ handles: [handle] }, stop.signal);
      try {
        await ctx.create({ handle, graceTimeMs: 200 });
        expect((await take(events, 2)).map(summary)).toEqual(['created', 'reaped']);
      } finally {
        stop.abort();
      }
    });
  });
}
