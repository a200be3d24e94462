import { ResourceExhaustedError } from './errors';
import type { ArborEvent, EventFilter } from './types';

/**
 * DEFAULT_EVENT_QUEUE_LIMIT is how many events a subscriber may have waiting before it is
 * dropped: at about 200 bytes an event, 1024 bound it to some 200 KiB per subscriber.
 */
export const DEFAULT_EVENT_QUEUE_LIMIT = 1024;

/**
 * OOM_INFO_EVENT is the ContainerizerInfo event that says the kernel killed a process for
 * the container's memory limit: the same string as @arbor/host' OOM_EVENT, which
 * core cannot import.
 */
export const OOM_INFO_EVENT = 'out of memory';

interface Subscription {
  accepts(event: ArborEvent): boolean;
  push(event: ArborEvent): void;
  end(): void;
}

/**
 * GardenerEvents is where the Gardener publishes what happens to containers and where
 * Client.events subscribes. publish never waits: each subscriber has its own queue of at
 * most queueLimit events, and one that falls further behind is dropped with a
 * ResourceExhaustedError rather than slowing the Gardener or growing without bound.
 */
export class GardenerEvents {
  private readonly subscriptions = new Set<Subscription>();

  constructor(private readonly queueLimit = DEFAULT_EVENT_QUEUE_LIMIT) {}

  /** subscribers counts the open subscriptions; the Gardener skips work (the OOM check) when there are none. */
  get subscribers(): number {
    return this.subscriptions.size;
  }

  publish(event: ArborEvent): void {
    for (const s of [...this.subscriptions]) if (s.accepts(event)) s.push(event);
  }

  /**
   * subscribe returns the events published from now on that match filter, until signal
   * aborts, the caller returns from the iteration, or close(); buffered events are then
   * dropped. @throws (from next) ResourceExhaustedError once queueLimit events are waiting
   */
  subscribe(filter: EventFilter = {}, signal?: AbortSignal): AsyncIterableIterator<ArborEvent> {
    const stream = new EventStream(this.queueLimit, filter, (s) => this.subscriptions.delete(s));
    if (signal?.aborted) return stream.endNow();
    this.subscriptions.add(stream);
    signal?.addEventListener('abort', () => stream.end(), { once: true });
    return stream;
  }

  /** close ends every subscription, as when the server stops. */
  close(): void {
    for (const s of [...this.subscriptions]) s.end();
  }
}

/** EventStream is one subscriber's bounded queue, read as an async iterator. */
class EventStream implements Subscription, AsyncIterableIterator<ArborEvent> {
  private readonly queue: ArborEvent[] = [];
  private waiter: { resolve: (r: IteratorResult<ArborEvent>) => void; reject: (err: unknown) => void } | undefined;
  private ended = false;
  private failure: Error | undefined;
  private readonly handles: ReadonlySet<string>;

  constructor(
    private readonly limit: number,
    filter: EventFilter,
    private readonly detach: (s: Subscription) => void,
  ) {
    this.handles = new Set(filter.handles ?? []);
  }

  accepts(event: ArborEvent): boolean {
    return this.handles.size === 0 || this.handles.has(event.handle);
  }

  push(event: ArborEvent): void {
    if (this.ended) return;
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve({ value: event, done: false });
      return;
    }
    if (this.queue.length >= this.limit) {
      this.fail(new ResourceExhaustedError('events', `events: subscriber fell behind by ${this.queue.length} events: read them faster`));
      return;
    }
    this.queue.push(event);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.length = 0;
    this.detach(this);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve({ value: undefined, done: true });
  }

  endNow(): this {
    this.ended = true;
    return this;
  }

  next(): Promise<IteratorResult<ArborEvent>> {
    const event = this.queue.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<ArborEvent>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** fail drops the subscriber and what it had waiting; its next read throws err. */
  private fail(err: Error): void {
    this.failure = err;
    this.end();
  }
}
