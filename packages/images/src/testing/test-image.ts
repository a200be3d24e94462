import { readFile } from 'node:fs/promises';
import type Dockerode from 'dockerode';
import { makeTar } from './make-tar';

/** TEST_IMAGE_PREFIX names every image the tests make, so they can be found and removed. */
export const TEST_IMAGE_PREFIX = 'arbor-test/';

/**
 * DOCKERFILE makes a 4-layer image from busybox-static: layer 2 creates /etc/doomed and
 * /data/cache/old, layer 3 deletes them (a whiteout) and recreates /data/cache (an opaque
 * directory), layer 4 adds /data/hello.
 */
const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /etc /data/cache && echo secret > /etc/doomed && echo old > /data/cache/old && echo keep > /etc/kept"]
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox rm -rf /etc/doomed /data/cache && /bin/busybox mkdir /data/cache && echo new > /data/cache/new"]
ENV GREETING=hello PATH=/bin
WORKDIR /data
COPY hello /data/hello
ENTRYPOINT ["/bin/busybox"]
CMD ["cat", "/data/hello"]
`;

/** buildTestImage builds the image with the Docker engine and tags it, like 'arbor-test/images:1'. */
export async function buildTestImage(docker: Dockerode, tag: string): Promise<void> {
  const context = await makeTar([
    { name: 'Dockerfile', content: DOCKERFILE },
    { name: 'busybox', content: await readFile('/bin/busybox'), mode: 0o755 },
    { name: 'hello', content: 'hello from arbor\n' },
  ]);
  const stream = await docker.buildImage(context as unknown as NodeJS.ReadableStream, { t: tag, rm: true, forcerm: true });
  const output = await new Promise<Array<{ error?: string; stream?: string }>>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, result: Array<{ error?: string; stream?: string }>) => (err ? reject(err) : resolve(result)));
  });
  const failed = output.find((line) => line.error !== undefined);
  if (failed !== undefined) throw new Error(`docker build ${tag}: ${failed.error}`);
}

/** removeTestImages removes every image tagged with TEST_IMAGE_PREFIX whose tag matches. */
export async function removeTestImages(docker: Dockerode, match: (tag: string) => boolean): Promise<void> {
  const images = await docker.listImages();
  for (const image of images) {
    for (const tag of image.RepoTags ?? []) {
      if (tag.includes(TEST_IMAGE_PREFIX) && match(tag)) {
        await docker
          .getImage(tag)
          .remove({ force: true })
          .catch(() => undefined);
      }
    }
  }
}
