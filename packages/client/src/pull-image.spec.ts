import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ContainerModule } from 'inversify';
import { PermissionDeniedError } from '@arbor/core';
import type { ImagePullProgress, ImageRef, PulledImageInfo } from '@arbor/core';
import { backends } from '@arbor/server';
import { startFixture } from './arbord-fixture.testkit';
import type { ArbordFixture } from './arbord-fixture.testkit';

// PullImage over gRPC against arbord with the fake backend. The fake volumizer keeps no
// images (no pull): the server answers with one 'done'. To see a real stream, a test sets
// scriptedPull, which the instrumented fake volumizer then serves as its pull.
type Pull = (image: ImageRef, onProgress: (progress: ImagePullProgress) => void) => Promise<PulledImageInfo>;
let scriptedPull: Pull | undefined;

const FAKE_VOLUMIZER = Symbol.for('@arbor/backend-fake/FakeVolumizer');
const instrumentedBackend = (): ContainerModule[] => {
  const fake = backends['fake'];
  if (!fake) throw new Error('the server has no fake backend');
  return [...[fake()].flat(), instrumentation];
};
const instrumentation = new ContainerModule((options) => {
  options.onActivation<object>(FAKE_VOLUMIZER, (_context, volumizer) =>
    Object.defineProperty(volumizer, 'pull', { get: () => scriptedPull, configurable: true }),
  );
});

const LAYER_A = `sha256:${'a'.repeat(64)}`;
const LAYER_B = `sha256:${'b'.repeat(64)}`;
const IMAGE: PulledImageInfo = {
  id: `sha256:${'c'.repeat(64)}`,
  layers: 2,
  env: ['PATH=/bin'],
  user: '1000:1000',
  workingDir: '/app',
  entrypoint: ['/bin/echo'],
  cmd: ['hello'],
};

/** twoLayers reports like an ImagePuller: layer A stored already, B downloaded in 100 chunks. */
const twoLayers: Pull = async (_image, onProgress) => {
  onProgress({ phase: 'resolving', layer: '', bytesDone: 0, bytesTotal: 0 });
  onProgress({ phase: 'exists', layer: LAYER_A, bytesDone: 500, bytesTotal: 500 });
  onProgress({ phase: 'waiting', layer: LAYER_B, bytesDone: 0, bytesTotal: 10_000 });
  for (let i = 1; i <= 100; i += 1) onProgress({ phase: 'downloading', layer: LAYER_B, bytesDone: i * 100, bytesTotal: 10_000 });
  onProgress({ phase: 'unpacked', layer: LAYER_B, bytesDone: 10_000, bytesTotal: 10_000 });
  onProgress({ phase: 'committing', layer: '', bytesDone: 0, bytesTotal: 0 });
  return IMAGE;
};

let f: ArbordFixture;

beforeAll(async () => {
  f = await startFixture({}, { backends: { fake: instrumentedBackend } });
});
afterAll(async () => {
  await f.stop();
});
afterEach(() => {
  scriptedPull = undefined;
});

describe('PullImage over gRPC', () => {
  it("answers with one 'done' and no image when the backend keeps no images (the fake)", async () => {
    const events: ImagePullProgress[] = [];
    const pulled = await f.client.pullImage({ uri: 'docker://127.0.0.1:5000/app#v1' }, (p) => events.push(p));
    expect(pulled).toEqual({ id: '', layers: 0, env: [], user: '', workingDir: '', entrypoint: [], cmd: [] });
    expect(events).toEqual([{ phase: 'done', layer: '', bytesDone: 0, bytesTotal: 0, image: pulled }]);
  });

  it("streams the volumizer's progress in order, throttled, and ends with 'done' carrying the image", async () => {
    const seen: ImageRef[] = [];
    scriptedPull = async (image, onProgress) => {
      seen.push(image);
      return twoLayers(image, onProgress);
    };
    const events: ImagePullProgress[] = [];
    const pulled = await f.client.pullImage({ uri: 'docker://127.0.0.1:5000/app#v1', username: 'ci', password: 'secret' }, (p) => events.push(p));
    expect(pulled).toEqual(IMAGE);
    expect(seen).toEqual([{ uri: 'docker://127.0.0.1:5000/app#v1', username: 'ci', password: 'secret' }]);
    const phases = events.map((p) => p.phase).filter((phase, i, all) => phase !== all[i - 1]);
    expect(phases).toEqual(['resolving', 'exists', 'waiting', 'downloading', 'unpacked', 'committing', 'done']);
    const downloads = events.filter((p) => p.phase === 'downloading');
    // 100 chunks within a few ms: the first and the last go out
    expect(downloads.length).toBeLessThan(10);
    expect(downloads.at(-1)).toEqual({ phase: 'downloading', layer: LAYER_B, bytesDone: 10_000, bytesTotal: 10_000 });
    expect(events.at(-1)).toEqual({ phase: 'done', layer: '', bytesDone: 0, bytesTotal: 0, image: IMAGE });
  });

  it('brings the same error class back when the pull fails', async () => {
    scriptedPull = async (_image, onProgress) => {
      onProgress({ phase: 'resolving', layer: '', bytesDone: 0, bytesTotal: 0 });
      throw new PermissionDeniedError('image: docker://127.0.0.1:5000/app: access denied (401)');
    };
    const events: ImagePullProgress[] = [];
    const err = await f.client.pullImage({ uri: 'docker://127.0.0.1:5000/app#v1' }, (p) => events.push(p)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect((err as Error).message).toContain('access denied (401)');
    expect(events.map((p) => p.phase)).toEqual(['resolving']);
  });

  it('cancels the call and rejects with what a throwing listener threw', async () => {
    scriptedPull = twoLayers;
    await expect(
      f.client.pullImage({ uri: 'docker://127.0.0.1:5000/app#v1' }, () => {
        throw new Error('listener broke');
      }),
    ).rejects.toThrow('listener broke');
  });
});

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function arbor(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'cli.js'), ...args], {
      env: { PATH: process.env['PATH'], ARBOR_ADDRESS: f.arbord.address },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('arbor pull', () => {
  it('prints progress lines on stderr (not a terminal) and the image id on stdout', async () => {
    scriptedPull = twoLayers;
    const result = await arbor(['pull', 'docker://127.0.0.1:5000/app#v1']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${IMAGE.id}\n`);
    expect(result.stderr.split('\n')).toEqual([
      'docker://127.0.0.1:5000/app#v1: resolving',
      'aaaaaaaaaaaa: already stored',
      'bbbbbbbbbbbb: waiting (9.8 KiB)',
      'bbbbbbbbbbbb: downloaded, verified and unpacked (9.8 KiB)',
      'docker://127.0.0.1:5000/app#v1: committing',
      `docker://127.0.0.1:5000/app#v1: done ${IMAGE.id} (2 layers)`,
      '',
    ]);
  });

  it('prints only the JSON result with --json', async () => {
    scriptedPull = twoLayers;
    const result = await arbor(['--json', 'pull', 'docker://127.0.0.1:5000/app#v1']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual(IMAGE);
  });

  it('create --image pulls first, with progress, then creates', async () => {
    const pulls: string[] = [];
    scriptedPull = async (image) => {
      pulls.push(image.uri);
      return { ...IMAGE, layers: 0, id: '' };
    };
    const result = await arbor(['create', '--handle', 'pulled-1', '--image', `raw://${f.dir}`]);
    expect(result).toMatchObject({ code: 0, stdout: 'pulled-1\n' });
    expect(pulls).toEqual([`raw://${f.dir}`]);
    expect(result.stderr).toContain(`raw://${f.dir}: done`);
    await f.client.destroy('pulled-1');
  });

  it('fails with the server error and exit code 1', async () => {
    scriptedPull = async () => {
      throw new PermissionDeniedError('image: docker://127.0.0.1:5000/app: access denied (401)');
    };
    const result = await arbor(['pull', 'docker://127.0.0.1:5000/app#v1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('access denied (401)');
  });
});
