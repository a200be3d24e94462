// Containers from a registry image on the runc backend: an image built with the Docker engine
// (FROM scratch: busybox-static, 4 layers, a whiteout, Env, WorkingDir, Entrypoint/Cmd),
// pushed to a real registry on loopback (root, a Docker engine, docker-registry and skopeo).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Gardener } from '@arbor/core';
import { imagesTesting } from '@arbor/images';
import { describeIf } from '@arbor/testkit';
import { runToEnd, runcBackendFor } from './testing/runc-test-env';

const run = promisify(execFile);
describeIf({ root: true, runc: true, docker: true })('runc backend: containers from registry images', () => {
  jest.setTimeout(180_000);
  const docker = imagesTesting.localDocker();
  const tag = `${imagesTesting.TEST_IMAGE_PREFIX}runc-backend:${process.pid}`;
  const registry = new imagesTesting.LocalRegistry();
  let proxy: InstanceType<typeof imagesTesting.CountingProxy>;
  let stateDir: string;
  let backend: Gardener;
  const registryUri = (): string => `docker://${proxy.host}/${tag.replace(':', '#')}`;

  beforeAll(async () => {
    await imagesTesting.buildTestImage(docker, tag);
    await registry.start();
    proxy = new imagesTesting.CountingProxy(registry.host);
    await proxy.start();
    await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-daemon:${tag}`, `docker://${registry.host}/${tag}`]);
    stateDir = await mkdtemp(join(tmpdir(), 'arbor-runc-images-'));
    backend = await runcBackendFor(stateDir);
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
    if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
  });

  it("runs the image's program with its Env and WorkingDir, the whiteout applied", async () => {
    const container = await backend.create({ image: { uri: registryUri() } });
    try {
      const program = await runToEnd(container, { path: '/bin/busybox', args: ['cat', '/data/hello'] });
      expect(program).toMatchObject({ code: 0, stdout: 'hello from arbor\n' });
      const env = await runToEnd(container, {
        path: '/bin/busybox',
        args: ['sh', '-c', 'echo "$GREETING"; pwd; busybox ls /etc; busybox ls /data/cache; busybox ls /etc/doomed'],
      });
      expect(env.stdout).toBe('hello\n/data\nkept\nnew\n');
      expect(env.stderr).toMatch(/\/etc\/doomed: No such file or directory/);
    } finally {
      await backend.destroy(container.handle);
    }
  });

  it('makes a second container from the same image without downloading a blob, and never changes the image', async () => {
    const first = await backend.create({ image: { uri: registryUri() } });
    try {
      const before = proxy.blobRequests;
      const second = await backend.create({ image: { uri: registryUri() } });
      try {
        expect(proxy.blobRequests).toBe(before);
        await runToEnd(first, { path: '/bin/busybox', args: ['sh', '-c', 'echo changed > /data/hello'] });
        expect((await runToEnd(second, { path: '/bin/busybox', args: ['cat', '/data/hello'] })).stdout).toBe('hello from arbor\n');
      } finally {
        await backend.destroy(second.handle);
      }
    } finally {
      await backend.destroy(first.handle);
    }
  });
});
