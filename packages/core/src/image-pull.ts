import type { CallContext } from './call-context';
import type { ImagePullProgress, PulledImageInfo } from './client';
import { InvalidArgumentError } from './errors';
import type { Logger } from './logger';
import type { Clock, Volumizer } from './ports';
import type { ImageRef } from './types';

/** PROGRESS_INTERVAL_MS: a layer's 'downloading' events go out at most this often (10 a second). */
export const PROGRESS_INTERVAL_MS = 100;

/** NO_IMAGE is what a backend that keeps no images answers: no id, no defaults. */
const NO_IMAGE: PulledImageInfo = { id: '', layers: 0, env: [], user: '', workingDir: '', entrypoint: [], cmd: [] };

/**
 * ProgressThrottle passes pull progress on, but at most one 'downloading' event per layer
 * every intervalMs: a volumizer reports every chunk (an 8 MiB layer: some 130 events),
 * which would flood a stream for a bar redrawn ten times a second. A layer's first and
 * last chunk always go out, and so does every other phase, in order.
 */
export class ProgressThrottle {
  // lastSent maps a layer to when its last 'downloading' event went out, like 'sha256:ab..' -> 1700000000000.
  private readonly lastSent = new Map<string, number>();

  constructor(
    private readonly send: (progress: ImagePullProgress) => void,
    private readonly clock: Pick<Clock, 'now'>,
    private readonly intervalMs = PROGRESS_INTERVAL_MS,
  ) {}

  push(progress: ImagePullProgress): void {
    if (progress.phase === 'downloading') {
      const now = this.clock.now();
      const last = this.lastSent.get(progress.layer);
      const finished = progress.bytesTotal >= 0 && progress.bytesDone >= progress.bytesTotal;
      if (last !== undefined && !finished && now - last < this.intervalMs) return;
      this.lastSent.set(progress.layer, now);
    }
    this.send(progress);
  }
}

/**
 * pullImage is the Gardener's PullImage: it asks the volumizer to fetch image ahead of a
 * create, passes its progress on (throttled), and ends with exactly one 'done' event that
 * carries the image. A volumizer without pull (the fake backend's) keeps no images, so
 * there is nothing to fetch: it gets the 'done' event alone, with no id and no defaults.
 * A listener that throws does not stop the pull. ctx, the call's, goes on to the volumizer.
 * @throws InvalidArgumentError('image.uri') when the URI is not a string
 * @throws what the volumizer's pull throws (bad URI, registry refusal, digest mismatch)
 */
export async function pullImage(
  ports: { volumizer: Volumizer; clock: Pick<Clock, 'now'>; logger: Logger },
  image: ImageRef,
  onProgress?: (progress: ImagePullProgress) => void,
  ctx?: CallContext,
): Promise<PulledImageInfo> {
  if (typeof image.uri !== 'string') throw new InvalidArgumentError('image.uri', 'must be a string');
  const log = (ctx?.logger ?? ports.logger).child({ uri: image.uri });
  let listenerFailed = false;
  const send = (progress: ImagePullProgress): void => {
    if (onProgress === undefined) return;
    try {
      onProgress(progress);
    } catch (err) {
      if (!listenerFailed) log.error('pull-progress-listener-failed', { error: String(err) });
      listenerFailed = true;
    }
  };
  const throttle = new ProgressThrottle(send, ports.clock);
  const started = ports.clock.now();
  const volumizer = ports.volumizer;
  let pulled: PulledImageInfo = NO_IMAGE;
  if (volumizer.pull !== undefined) {
    log.info('pull-started');
    pulled = await volumizer.pull(
      image,
      (progress) => {
        // the one 'done' event is ours, sent once the volumizer's pull has returned
        if (progress.phase !== 'done') throttle.push(progress);
      },
      ctx && { logger: log },
    );
    log.info('pull-finished', { id: pulled.id, layers: pulled.layers, ms: ports.clock.now() - started });
  }
  send({ phase: 'done', layer: '', bytesDone: 0, bytesTotal: 0, image: pulled });
  return pulled;
}
