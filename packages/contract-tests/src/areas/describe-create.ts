import { ArborError, ContainerNotFoundError, HandleAlreadyExistsError, InvalidArgumentError, PortInUseError, ResourceExhaustedError } from '@arbor/core';
import type { Client } from '@arbor/core';
import { steps } from '@arbor/probes';
import type { BackendCapabilities } from '../contract-setup';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';
import { probe, runToEnd } from '../helpers/run-process';

const { env, line, printVar } = steps;

async function handles(client: Client): Promise<string[]> {
  return (await client.containers()).map((c) => c.handle);
}

export function describeCreate(ctx: ContractContext, capabilities: BackendCapabilities): void {
  describe('create', () => {
    it('generates a unique, valid handle when none is given', async () => {
      const made = await Promise.all([ctx.create(), ctx.create(), ctx.create({ handle: '' })]);
      const names = made.map((c) => c.handle);
      for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/);
      expect(new Set(names).size).toBe(3);
      expect(await handles(ctx.client)).toEqual(expect.arrayContaining(names));
    });

    it('keeps the handle it is given', async () => {
      const handle = ctx.unique('given');
      const container = await ctx.create({ handle });
      expect(container.handle).toBe(handle);
      expect((await ctx.client.lookup(handle)).handle).toBe(handle);
    });

    it('refuses a duplicate handle with "Handle \'x\' already in use" and leaves the first alone', async () => {
      const handle = ctx.unique('dup');
      const first = await ctx.create({ handle, properties: { owner: 'first' } });
      await expectRejection(ctx.create({ handle, properties: { owner: 'second' } }), HandleAlreadyExistsError, {
        handle,
        kind: 'alreadyExists',
        message: `Handle '${handle}' already in use`,
      });
      expect(await first.properties()).toEqual({ owner: 'first' });
      expect((await handles(ctx.client)).filter((h) => h === handle)).toHaveLength(1);
    });

    it('lets exactly one of two concurrent creates of a handle win', async () => {
      const handle = ctx.unique('race');
      ctx.track(handle);
      const results = await Promise.allSettled([ctx.client.create({ handle }), ctx.client.create({ handle })]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]).toBeInstanceOf(HandleAlreadyExistsError);
      expect((await handles(ctx.client)).filter((h) => h === handle)).toHaveLength(1);
    });

    it.each([
      ['a slash', 'bad/handle'],
      ['a space', 'bad handle'],
      ['a leading dot', '.hidden'],
      ['a leading dash', '-flag'],
      ['257 characters', 'h'.repeat(257)],
    ])('refuses a handle with %s as InvalidArgumentError and creates nothing', async (_what, handle) => {
      const before = await handles(ctx.client);
      await expectRejection(ctx.client.create({ handle }), InvalidArgumentError, { field: 'handle', kind: 'invalidArgument' });
      expect(await handles(ctx.client)).toEqual(before);
    });

    it('accepts a 256-character handle', async () => {
      const handle = `${ctx.unique('long')}-`.padEnd(256, 'x');
      const container = await ctx.create({ handle });
      expect(container.handle).toBe(handle);
    });

    it('stores the spec properties exactly', async () => {
      const properties = { app: 'web', 'team.name': 'core', empty: '' };
      const container = await ctx.create({ properties });
      expect(await container.properties()).toEqual(properties);
      expect((await container.info()).properties).toEqual(properties);
    });

    it('gives every process the spec env', async () => {
      const container = await ctx.create({ env: ['GREETING=hello world', 'EMPTY=', 'WITH_EQ=a=b'] });
      const { stdout, exitCode } = await runToEnd(container, probe(env()));
      expect(exitCode).toBe(0);
      const lines = stdout.split('\n');
      expect(lines).toEqual(expect.arrayContaining(['GREETING=hello world', 'EMPTY=', 'WITH_EQ=a=b']));
    });

    it('lets a later spec env entry replace an earlier one with the same key', async () => {
      const container = await ctx.create({ env: ['COLOR=red', 'COLOR=blue'] });
      const { stdout } = await runToEnd(container, probe(printVar('COLOR')));
      expect(stdout).toBe('blue\n');
    });

    it('refuses a malformed env entry naming it, and creates nothing', async () => {
      const handle = ctx.unique('badenv');
      await expectRejection(ctx.client.create({ handle, env: ['OK=1', 'NOEQUALS'] }), InvalidArgumentError, { field: 'env[1]' });
      expect(await handles(ctx.client)).not.toContain(handle);
    });

    it('refuses a negative grace time, and creates nothing', async () => {
      const handle = ctx.unique('badgrace');
      await expectRejection(ctx.client.create({ handle, graceTimeMs: -1 }), InvalidArgumentError, { field: 'graceTimeMs' });
      expect(await handles(ctx.client)).not.toContain(handle);
    });

    it('refuses a negative limit naming it, and creates nothing', async () => {
      const handle = ctx.unique('badlimit');
      await expectRejection(ctx.client.create({ handle, limits: { memory: { limitInBytes: -5 } } }), InvalidArgumentError, {
        field: 'limits.memory.limitInBytes',
      });
      expect(await handles(ctx.client)).not.toContain(handle);
    });

    it('refuses an unknown image scheme as invalid input, and creates nothing', async () => {
      const handle = ctx.unique('badimage');
      const err = await ctx.client.create({ handle, image: { uri: 'nosuchscheme:///x' } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      ctx.track(handle);
      expect(ArborError.is(err)).toBe(true);
      expect((err as ArborError).kind).toBe('invalidArgument');
      expect(await handles(ctx.client)).not.toContain(handle);
    });

    it('refuses a container beyond maxContainers with ResourceExhaustedError and creates nothing', async () => {
      const server = await ctx.extraServer({ maxContainers: 2 });
      await ctx.create({}, server.client);
      const second = await ctx.create({}, server.client);
      const handle = ctx.unique('third');
      await expectRejection(server.client.create({ handle }), ResourceExhaustedError, {
        resource: 'containers',
        kind: 'resourceExhausted',
      });
      expect(await handles(server.client)).toHaveLength(2);
      await expectRejection(server.client.lookup(handle), ContainerNotFoundError, { handle });
      await server.client.destroy(second.handle);
      const third = await ctx.create({ handle }, server.client);
      expect(third.handle).toBe(handle);
    });

    it('rolls back a create that fails late: nothing listed, handle and resources free again', async () => {
      const owner = await ctx.create();
      const port = 60321;
      await owner.netIn(port, 8080);
      const handle = ctx.unique('rollback');
      ctx.track(handle);
      await expectRejection(ctx.client.create({ handle, properties: { doomed: 'yes' }, netIn: [{ hostPort: port, containerPort: 80 }] }), PortInUseError, {
        port,
      });
      expect(await handles(ctx.client)).not.toContain(handle);
      expect(await ctx.client.containers({ doomed: 'yes' })).toEqual([]);
      // the first container keeps its mapping; the handle can be used again
      expect((await owner.info()).mappedPorts).toEqual([{ hostPort: port, containerPort: 8080 }]);
      const retry = await ctx.create({ handle, netIn: [{ hostPort: 0, containerPort: 80 }] });
      expect(retry.handle).toBe(handle);
    });

    it('never lists or finds a container whose create is still in progress and then fails', async () => {
      const owner = await ctx.create();
      const port = 60322;
      await owner.netIn(port, 80);
      const handle = ctx.unique('half');
      ctx.track(handle);
      const seen: string[] = [];
      let done = false;
      const creating = ctx.client
        .create({
          handle,
          netIn: [
            { hostPort: 0, containerPort: 1 },
            { hostPort: port, containerPort: 2 },
          ],
        })
        .finally(() => {
          done = true;
        });
      const watching = (async () => {
        while (!done) {
          seen.push(...(await handles(ctx.client)));
          await ctx.client.lookup(handle).then(
            () => seen.push(`lookup:${handle}`),
            () => undefined,
          );
          // yield to timers and I/O: an in-process backend may answer in microtasks alone
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      await expectRejection(creating, PortInUseError);
      await watching;
      expect(seen.filter((h) => h.endsWith(handle))).toEqual([]);
    });

    it('gives each container its exact requested address, or one in the requested subnet', async () => {
      const exact = await ctx.create({ network: `${ctx.staticNet(0)}.10/30` });
      expect((await exact.info()).containerIp).toBe(`${ctx.staticNet(0)}.10`);
      const inSubnet = await ctx.create({ network: `${ctx.staticNet(1)}.0/24` });
      expect((await inSubnet.info()).containerIp.startsWith(`${ctx.staticNet(1)}.`)).toBe(true);
    });

    it('maps the spec netIn ports and shows them in info', async () => {
      const container = await ctx.create({
        netIn: [
          { hostPort: 60331, containerPort: 8080 },
          { hostPort: 60332, containerPort: 0 },
        ],
      });
      expect((await container.info()).mappedPorts).toEqual([
        { hostPort: 60331, containerPort: 8080 },
        { hostPort: 60332, containerPort: 60332 },
      ]);
    });

    it('refuses an invalid spec netOut rule naming it, and creates nothing', async () => {
      const handle = ctx.unique('badnetout');
      await expectRejection(ctx.client.create({ handle, netOut: [{ protocol: 'icmp', ports: [{ start: 80, end: 80 }] }] }), InvalidArgumentError, {
        field: 'netOut[0].ports',
      });
      expect(await handles(ctx.client)).not.toContain(handle);
    });

    const images = capabilities.images;
    (images.length > 0 ? it.each(images) : it.skip.each(['(no extra images)']))(
      'runs busybox from image %s',
      async (uri) => {
        const container = await ctx.create({ image: { uri } });
        const { stdout, exitCode } = await runToEnd(container, probe(line('from image')));
        expect({ stdout, exitCode }).toEqual({ stdout: 'from image\n', exitCode: 0 });
      },
      60_000,
    );
  });
}
