import type { BackendCapabilities } from '../contract-setup';
import type { ContractContext } from '../contract-context';
import { steps } from '@arbor/probes';
import { attachProcess, finish, probe, startProcess } from '../helpers/run-process';

const { line, sleep, exit } = steps;

// These need a server whose containers and processes outlive it (state on disk, processes
// not children of the daemon), and a harness that can restart it.
export function describeRestart(ctx: ContractContext, capabilities: BackendCapabilities): void {
  const describeIf = capabilities.survivesRestart ? describe : describe.skip;

  describeIf('server restart (survivesRestart)', () => {
    it('keeps containers, properties, limits and mapped ports across a restart', async () => {
      const server = await ctx.extraServer({});
      if (!server.restart) throw new Error('survivesRestart needs a harness with restart()');
      const container = await ctx.create(
        { properties: { kept: 'yes' }, limits: { pid: { max: 99 } }, netIn: [{ hostPort: 60381, containerPort: 80 }] },
        server.client,
      );
      const client = await server.restart();
      ctx.track(container.handle, client);
      const found = await client.lookup(container.handle);
      expect(await found.properties()).toEqual({ kept: 'yes' });
      expect(await found.currentPidLimits()).toEqual({ max: 99 });
      expect((await found.info()).mappedPorts).toEqual([{ hostPort: 60381, containerPort: 80 }]);
    }, 30_000);

    it('lets a client attach after a restart to a process started before it', async () => {
      const server = await ctx.extraServer({});
      if (!server.restart) throw new Error('survivesRestart needs a harness with restart()');
      const container = await ctx.create({}, server.client);
      const started = await startProcess(container, probe(sleep(2), line('after-restart'), exit(12)));
      started.detach();
      const client = await server.restart();
      ctx.track(container.handle, client);
      const attached = await attachProcess(await client.lookup(container.handle), started.process.id);
      expect(await finish(attached)).toMatchObject({ exitCode: 12, stdout: 'after-restart\n' });
    }, 30_000);
  });
}
