// Containers from docker-daemon:, docker-archive: and docker:// images on the linux backend (root and a Docker engine).
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { Container, Gardener } from '@arbor/core';
import { imagesTesting } from '@arbor/images';
import { describeIf } from '@arbor/testkit';
import { backendFor, makeStateDir, prepareHost, removeStateDir, runToEnd } from './testing/linux-test-env';

const run = promisify(execFile);

describeIf({ root: true, docker: true })('linux backend: containers from images', () => {
  jest.setTimeout(180_000);
  const docker = imagesTesting.localDocker();
  const tag = `${imagesTesting.TEST_IMAGE_PREFIX}linux-backend:${process.pid}`;
  const registry = new imagesTesting.LocalRegistry();
  let proxy: InstanceType<typeof imagesTesting.CountingProxy>;
  let stateDir: string;
  let backend: Gardener;

  beforeAll(async () => {
    prepareHost();
    await imagesTesting.buildTestImage(docker, tag);
    await registry.start();
    proxy = new imagesTesting.CountingProxy(registry.host);
    await proxy.start();
    await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-daemon:${tag}`, `docker://${registry.host}/${tag}`]);
    stateDir = await makeStateDir();
    // a `docker save` of the image, for docker-archive:
    await pipeline((await docker.getImage(tag).get()) as unknown as Readable, createWriteStream(join(stateDir, 'saved.tar')));
    backend = await backendFor(stateDir);
    await backend.start();
  });
  afterAll(async () => {
    if (backend !== undefined) {
      for (const c of await backend.containers()) await backend.destroy(c.handle);
      await backend.stop();
    }
    await proxy?.stop();
    await registry.stop();
    await imagesTesting.removeTestImages(docker, (t) => t === tag);
    if (stateDir !== undefined) await removeStateDir(stateDir);
  });

  const registryUri = (): string => `docker://${proxy.host}/${tag.replace(':', '#')}`;

  /** runImageProgram runs busybox of the image, showing its env, working dir and the whiteout of /etc/doomed. */
  async function runImageProgram(container: Container): Promise<{ code: number; stdout: string; stderr: string }> {
    return runToEnd(container, {
      path: '/bin/busybox',
      args: ['sh', '-c', 'echo "$GREETING"; pwd; busybox ls /etc; busybox ls /etc/doomed; busybox cat /data/hello'],
    });
  }

  function expectImageProgramOutput(result: { code: number; stdout: string; stderr: string }): void {
    expect(result.stdout).toBe('hello\n/data\nkept\nhello from arbor\n');
    expect(result.stderr).toMatch(/\/etc\/doomed: No such file or directory/);
  }

  it.each([
    ['docker-daemon:', (): string => `docker-daemon:${tag}`],
    ['docker-archive:', (): string => `docker-archive://${join(stateDir, 'saved.tar')}`],
    ['docker://127.0.0.1:PORT', registryUri],
  ])('runs the program of an image from %s with its Env, WorkingDir and whiteouts', async (_source, uri) => {
    const container = await backend.create({ image: { uri: uri() } });
    try {
      expectImageProgramOutput(await runImageProgram(container));
    } finally {
      await backend.destroy(container.handle);
    }
  });

  it('makes a second container from the same registry image without downloading a blob', async () => {
    const start = proxy.blobRequests;
    const first = await backend.create({ image: { uri: registryUri() } });
    try {
      const before = proxy.blobRequests;
      // the earlier tests' containers are gone, and so are their layers: the first one downloads
      expect(before).toBeGreaterThan(start);
      const second = await backend.create({ image: { uri: registryUri() } });
      try {
        expect(proxy.blobRequests).toBe(before);
        expectImageProgramOutput(await runImageProgram(second));
        expectImageProgramOutput(await runImageProgram(first));
      } finally {
        await backend.destroy(second.handle);
      }
    } finally {
      await backend.destroy(first.handle);
    }
  });
});
