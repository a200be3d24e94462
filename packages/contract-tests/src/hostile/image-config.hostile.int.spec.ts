// Hostile image configs against a real arbord on each host backend: an image's Env, User,
// WorkingDir, Cmd and Entrypoint are checked as API input is (hostile-input issue, item 1).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { InvalidArgumentError } from '@arbor/core';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { expectRejection } from '../helpers/expect-rejection';
import { runToEnd, sh } from '../helpers/run-process';
import { describeIf, expectAlive, HOST_BACKENDS } from '@arbor/testkit';
import { startRealArbord, type RealArbord } from './real-arbord';

const run = promisify(execFile);

/** ImageSettings are the config fields an image brings to its processes, in the config's own words. */
interface ImageSettings {
  Env?: string[];
  User?: string;
  WorkingDir?: string;
  Cmd?: string[];
  Entrypoint?: string[];
}

/**
 * OciLayout writes one OCI image layout dir (like /tmp/arbor-hostile-image-XXXX/layout)
 * whose images share one layer, the default busybox rootfs, and differ in their configs.
 */
class OciLayout {
  private readonly manifests: object[] = [];
  private layer = { digest: '', size: 0, diffId: '' };

  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(join(this.dir, 'blobs/sha256'), { recursive: true });
    const tarPath = join(this.dir, '..', 'layer.tar');
    await run('tar', ['--numeric-owner', '-C', DEFAULT_ROOTFS, '-cf', tarPath, '.']);
    const tar = await readFile(tarPath);
    const digest = await this.blob(tar);
    this.layer = { digest, size: tar.length, diffId: digest };
  }

  /** add writes an image with these settings tagged tag: its URI is oci://<dir>#<tag>. */
  async add(tag: string, settings: ImageSettings): Promise<string> {
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', config: settings, rootfs: { type: 'layers', diff_ids: [this.layer.diffId] } }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await this.blob(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: this.layer.digest, size: this.layer.size }],
      }),
    );
    this.manifests.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: await this.blob(manifest),
      size: manifest.length,
      annotations: { 'org.opencontainers.image.ref.name': tag },
    });
    await writeFile(join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: this.manifests }));
    await writeFile(join(this.dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    return `oci://${this.dir}#${tag}`;
  }

  private async blob(bytes: Buffer): Promise<string> {
    const hex = createHash('sha256').update(bytes).digest('hex');
    await writeFile(join(this.dir, 'blobs/sha256', hex), bytes);
    return `sha256:${hex}`;
  }
}

// HOSTILE are configs a process must never start with: each names the field the error names.
const HOSTILE: Array<[string, ImageSettings, RegExp]> = [
  ['a NUL in Env', { Env: ['PATH=/bin:/usr/bin', 'X=1\u0000--privileged'] }, /config Env\[1\]/],
  ['a NUL in User', { User: 'root\u0000--privileged' }, /config User/],
  ['a NUL in WorkingDir', { WorkingDir: '/tmp\u0000--privileged' }, /config WorkingDir/],
  ['a NUL in Cmd', { Cmd: ['sh', '-c', 'true\u0000--privileged'] }, /config Cmd\[2\]/],
  ['a NUL in Entrypoint', { Entrypoint: ['/bin/sh\u0000--privileged'] }, /config Entrypoint\[0\]/],
  ['a uid out of range', { User: '4294967296' }, /config User/],
  ['a relative WorkingDir', { WorkingDir: 'tmp' }, /config WorkingDir/],
];

describeIf({ root: true })('hostile image configs against a real arbord', () => {
  jest.setTimeout(120_000);
  let work: string;
  let layout: OciLayout;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'arbor-hostile-image-'));
    layout = new OciLayout(join(work, 'layout'));
    await layout.init();
  });

  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  describe.each(HOST_BACKENDS)('on %s', (backend) => {
    let arbord: RealArbord;

    beforeAll(async () => {
      // a pool of its own: other suites' arbords may run beside this one, and firewall chains are named by address
      arbord = await startRealArbord(backend, ['--network-pool', backend === 'linux' ? '10.254.212.0/24' : '10.254.213.0/24']);
    });

    afterAll(async () => {
      await arbord?.stop();
    });

    it.each(HOSTILE)('refuses an image with %s: INVALID_ARGUMENT naming the field, nothing kept', async (name, settings, field) => {
      const uri = await layout.add(`${backend}-${name.replace(/\W+/g, '-')}`, settings);
      const err = await expectRejection(arbord.client.create({ image: { uri } }), InvalidArgumentError, { kind: 'invalidArgument' });
      expect(err.message).toMatch(field);
      // the image as quoteInput shows it: JSON-quoted, cut at 64 characters
      expect(err.message.startsWith(`image: ${JSON.stringify(uri.slice(0, 64)).slice(0, -1)}`)).toBe(true);
      expect(err.message.length).toBeLessThan(400);
      expect(await arbord.client.containers()).toEqual([]);
      // refused before a byte of it was stored: no layer, no config, no reference
      const images = join(arbord.stateDir, 'images');
      for (const sub of ['layers/sha256', 'blobs/sha256', 'refs']) {
        expect(await readdir(join(images, sub)).catch(() => [])).toEqual([]);
      }
      await expectAlive(arbord);
    });

    it('refuses the same hostile config through PullImage', async () => {
      const uri = await layout.add(`${backend}-pull`, { Env: ['X=1\u0000--privileged'] });
      const err = await expectRejection(arbord.client.pullImage({ uri }), InvalidArgumentError, { kind: 'invalidArgument' });
      expect(err.message).toMatch(/config Env\[0\]/);
      await expectAlive(arbord);
    });

    it('runs a process of the same image with a clean config, with the image Env and the usual capabilities', async () => {
      const uri = await layout.add(`${backend}-clean`, { Env: ['PATH=/bin:/usr/bin', 'GREETING=hello'], WorkingDir: '/tmp', User: 'root' });
      const container = await arbord.client.create({ image: { uri } });
      try {
        const result = await runToEnd(container, sh('echo "$GREETING"; pwd; grep ^CapEff /proc/self/status'));
        expect(result.exitCode).toBe(0);
        expect(result.stdout).toMatch(/^hello\n\/tmp\nCapEff:\s+[0-9a-f]+\n$/);
        // not every capability: the image cannot make a container privileged
        expect(result.stdout).not.toMatch(/CapEff:\s+000001ffffffffff/);
      } finally {
        await arbord.client.destroy(container.handle);
      }
      await expectAlive(arbord);
    });
  });
});
