import type { ImagePullProgress, PulledImageInfo } from './client';
import { InvalidArgumentError } from './errors';
import { ProgressThrottle, pullImage } from './image-pull';
import { silentLogger } from './logger';
import type { Volumizer } from './ports';

const LAYER_A = `sha256:${'a'.repeat(64)}`;
const LAYER_B = `sha256:${'b'.repeat(64)}`;

function downloading(layer: string, bytesDone: number, bytesTotal = 1000): ImagePullProgress {
  return { phase: 'downloading', layer, bytesDone, bytesTotal };
}

function volumizerWithout(): Volumizer {
  return {
    create: jest.fn(),
    destroy: jest.fn(),
    limitDisk: jest.fn(),
    metrics: jest.fn(),
    capacity: jest.fn(),
  };
}

describe('ProgressThrottle', () => {
  let now: number;
  let sent: ImagePullProgress[];
  let throttle: ProgressThrottle;

  beforeEach(() => {
    now = 1_000;
    sent = [];
    throttle = new ProgressThrottle((p) => sent.push(p), { now: () => now }, 100);
  });

  it("sends a layer's first chunk, then at most one 'downloading' event per interval", () => {
    throttle.push(downloading(LAYER_A, 10));
    now += 40;
    throttle.push(downloading(LAYER_A, 20));
    now += 59;
    throttle.push(downloading(LAYER_A, 30));
    now += 1;
    throttle.push(downloading(LAYER_A, 40));
    expect(sent.map((p) => p.bytesDone)).toEqual([10, 40]);
  });

  it("keeps layers apart and always sends a layer's last chunk and every other phase", () => {
    throttle.push(downloading(LAYER_A, 10));
    throttle.push(downloading(LAYER_B, 10));
    throttle.push(downloading(LAYER_A, 1000));
    throttle.push({ phase: 'unpacked', layer: LAYER_A, bytesDone: 1000, bytesTotal: 1000 });
    throttle.push(downloading(LAYER_B, 20));
    throttle.push({ phase: 'committing', layer: '', bytesDone: 0, bytesTotal: 0 });
    expect(sent.map((p) => `${p.phase} ${p.layer.slice(7, 8)} ${p.bytesDone}`)).toEqual([
      'downloading a 10',
      'downloading b 10',
      'downloading a 1000',
      'unpacked a 1000',
      'committing  0',
    ]);
  });

  it('throttles a layer of unknown size without ever calling it finished', () => {
    throttle.push(downloading(LAYER_A, 10, -1));
    throttle.push(downloading(LAYER_A, 20, -1));
    expect(sent).toHaveLength(1);
  });
});

describe('pullImage', () => {
  const clock = { now: () => 0 };
  const info: PulledImageInfo = {
    id: `sha256:${'c'.repeat(64)}`,
    layers: 1,
    env: ['A=1'],
    user: '',
    workingDir: '/',
    entrypoint: ['/bin/app'],
    cmd: ['--serve'],
  };

  it("answers with one 'done' event and no image when the volumizer keeps no images", async () => {
    const events: ImagePullProgress[] = [];
    const pulled = await pullImage({ volumizer: volumizerWithout(), clock, logger: silentLogger }, { uri: 'docker:///busybox' }, (p) => events.push(p));
    expect(pulled).toEqual({ id: '', layers: 0, env: [], user: '', workingDir: '', entrypoint: [], cmd: [] });
    expect(events).toEqual([{ phase: 'done', layer: '', bytesDone: 0, bytesTotal: 0, image: pulled }]);
  });

  it("passes the volumizer's progress on and replaces its 'done' with one of its own, last", async () => {
    const volumizer: Volumizer = {
      ...volumizerWithout(),
      pull: jest.fn(async (_image, onProgress: (p: ImagePullProgress) => void) => {
        onProgress({ phase: 'resolving', layer: '', bytesDone: 0, bytesTotal: 0 });
        onProgress(downloading(LAYER_A, 1000));
        onProgress({ phase: 'done', layer: '', bytesDone: 0, bytesTotal: 0 });
        return info;
      }),
    };
    const events: ImagePullProgress[] = [];
    const image = { uri: 'docker://127.0.0.1:5000/app#v1', username: 'u', password: 'p' };
    await expect(pullImage({ volumizer, clock, logger: silentLogger }, image, (p) => events.push(p))).resolves.toEqual(info);
    expect(volumizer.pull).toHaveBeenCalledWith(image, expect.any(Function), undefined);
    expect(events.map((p) => p.phase)).toEqual(['resolving', 'downloading', 'done']);
    expect(events[2]?.image).toEqual(info);
  });

  it('keeps pulling when the listener throws', async () => {
    const volumizer: Volumizer = {
      ...volumizerWithout(),
      pull: jest.fn(async (_i, onProgress: (p: ImagePullProgress) => void) => (onProgress(downloading(LAYER_A, 1)), info)),
    };
    await expect(
      pullImage({ volumizer, clock, logger: silentLogger }, { uri: 'x' }, () => {
        throw new Error('listener broke');
      }),
    ).resolves.toEqual(info);
  });

  it("fails with the volumizer's error and sends no 'done'", async () => {
    const volumizer: Volumizer = { ...volumizerWithout(), pull: jest.fn().mockRejectedValue(new InvalidArgumentError('image.uri', 'bad')) };
    const events: ImagePullProgress[] = [];
    await expect(pullImage({ volumizer, clock, logger: silentLogger }, { uri: 'bad:' }, (p) => events.push(p))).rejects.toThrow(InvalidArgumentError);
    expect(events).toEqual([]);
  });
});
