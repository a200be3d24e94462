import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { InvalidArgumentError, ResourceExhaustedError } from '@arbor/core';
import type Dockerode from 'dockerode';
import { sha256Of } from './digest';
import { ImagePuller } from './image-puller';
import { LayerStore } from './layer-store';
import { makeTar } from './testing/make-tar';
import { RecordingSpecialFiles } from './testing/recording-special-files';

/** fakeDocker answers inspect with this config and layers, and exports exportBytes zero bytes. */
function fakeDocker(config: object, layers: string[], exportBytes = 0): Dockerode {
  const image = {
    inspect: async () => ({ Id: sha256Of('config'), RootFS: { Type: 'layers', Layers: layers }, Config: config }),
    get: async () =>
      Readable.from(
        (function* zeros() {
          for (let left = exportBytes; left > 0; left -= 1024 * 1024) yield Buffer.alloc(Math.min(left, 1024 * 1024));
        })(),
      ),
  };
  return { getImage: () => image } as unknown as Dockerode;
}

describe('docker-daemon images (a fake engine)', () => {
  let stateDir: string;
  let store: LayerStore;

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'arbor-daemon-'));
    store = new LayerStore({ stateDir, specialFiles: new RecordingSpecialFiles(), maxUnpackedBytes: 1024 * 1024 });
    await store.init();
  });

  afterEach(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  it("refuses a hostile Env from the engine's inspect answer when every layer is stored already", async () => {
    const tar = await makeTar([{ name: 'hello', content: 'hi' }]);
    await store.ensureLayer({ diffId: sha256Of(tar) }, async () => Readable.from([tar]));
    const docker = fakeDocker({ Env: ['X=1\u0000--privileged'] }, [sha256Of(tar)]);
    const err = await new ImagePuller({ store, docker }).pull({ uri: 'docker-daemon:evil:1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/^image: "docker-daemon:evil:1" config Env\[0\]: .*contains a NUL character$/);
    expect(await store.references()).toEqual([]);
  });

  it('stops an export larger than the bound on unpacked bytes and removes it', async () => {
    const docker = fakeDocker({}, [sha256Of('not stored')], 1024 * 1024 + 65 * 1024 * 1024);
    const err = await new ImagePuller({ store, docker }).pull({ uri: 'docker-daemon:huge:1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceExhaustedError);
    expect((err as Error).message).toMatch(/docker-daemon:huge:1: the Docker engine's export is larger than \d+ bytes/);
    expect(await readdir(join(store.root, 'tmp'))).toEqual([]);
  });
});
