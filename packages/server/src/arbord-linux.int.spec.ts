// arbord (startArbord: config, composition root, Gardener) over the linux backend, for what
// its config sets in the kernel and in the image store: the default pid limit in a container's
// cgroup, and the bound on what one image pull unpacks. Needs root, the built helpers and the
// default rootfs (scripts/setup.sh).
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describeIf } from '@arbor/testkit';
import { ResourceExhaustedError } from '@arbor/core';
import { useLinuxArbord, writeOciImage } from './testing/linux-arbord.testkit';

const MiB = 1024 * 1024;

describeIf({ root: true })('arbord over the linux backend', () => {
  const running = useLinuxArbord('arbord-linux-', { defaultPidLimit: 8, imageMaxUnpackedBytes: 1 * MiB });

  test('a container created without a pid limit gets defaultPidLimit in its cgroup: a fork bomb stops there', async () => {
    const { arbord } = running();
    const container = await arbord.backend.create({ handle: 'default-pids' });
    expect(await container.currentPidLimits()).toEqual({ max: 8 });
    // metrics read pids.max and pids.current from the container's cgroup
    expect((await container.metrics()).pid.max).toBe(8);
    const stderr = new PassThrough();
    let errors = '';
    stderr.on('data', (d: Buffer) => (errors += d.toString()));
    // gentle: 20 sleeps asked for, each gone when the container is destroyed
    await container.run({ path: 'sh', args: ['-c', 'for i in $(seq 20); do sleep 60 & done; wait'] }, { stderr });
    for (let i = 0; i < 50 && !/fork/i.test(errors); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(errors).toMatch(/can't fork/);
    const { current, max } = (await container.metrics()).pid;
    expect(max).toBe(8);
    expect(current).toBeLessThanOrEqual(8);
    await arbord.backend.destroy('default-pids');
  }, 60_000);

  test("a spec's own pid limit wins over the default", async () => {
    const { arbord } = running();
    const container = await arbord.backend.create({ handle: 'own-pids', limits: { pid: { max: 100 } } });
    expect((await container.metrics()).pid.max).toBe(100);
    await arbord.backend.destroy('own-pids');
  }, 60_000);

  test('an image unpacking past imageMaxUnpackedBytes is refused; one under it is pulled', async () => {
    const { arbord, dir } = running();
    await writeOciImage(join(dir, 'big'), 'v1', 2 * MiB);
    const err = await arbord.backend.pullImage({ uri: `oci://${dir}/big#v1` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceExhaustedError);
    expect((err as Error).message).toMatch(/unpacks past the limit of 1048576 bytes/);
    await writeOciImage(join(dir, 'small'), 'v1', 64 * 1024);
    expect((await arbord.backend.pullImage({ uri: `oci://${dir}/small#v1` })).layers).toBe(1);
  }, 60_000);
});
