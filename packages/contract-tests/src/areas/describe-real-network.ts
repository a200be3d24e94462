import { connect } from 'node:net';
import type { BackendCapabilities } from '../contract-setup';
import type { ContractContext } from '../contract-context';
import { finish, runToEnd, sh, startProcess } from '../helpers/run-process';
import { eventually } from '@arbor/testkit';

function readFromPort(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString()));
    socket.on('error', reject);
    socket.setTimeout(2000, () => socket.destroy(new Error('timed out')));
  });
}

// These need working interfaces in the containers (busybox nc) and NetIn forwarding on the host.
export function describeRealNetwork(ctx: ContractContext, capabilities: BackendCapabilities): void {
  const describeIf = capabilities.realNetwork ? describe : describe.skip;

  describeIf('real network (realNetwork)', () => {
    it('forwards a NetIn host port to the container port', async () => {
      const container = await ctx.create();
      const { hostPort } = await container.netIn(0, 8080);
      await startProcess(container, sh('while true; do echo hello-from-inside | nc -l -p 8080; done'));
      const info = await container.info();
      const answer = await eventually(() => readFromPort(info.externalIp || '127.0.0.1', hostPort), 5000, 200);
      expect(answer).toBe('hello-from-inside\n');
    }, 15_000);

    it('lets containers in the same subnet reach each other', async () => {
      const server = await ctx.create({ network: `${ctx.staticNet(3)}.64/29` });
      const client = await ctx.create({ network: `${ctx.staticNet(3)}.64/29` });
      const serverIp = (await server.info()).containerIp;
      const listening = await startProcess(server, sh('echo neighbour | nc -l -p 7000'));
      const result = await eventually(
        async () => {
          const r = await runToEnd(client, sh(`nc -w 1 ${serverIp} 7000 </dev/null`));
          if (r.stdout !== 'neighbour\n') throw new Error(`got ${JSON.stringify(r.stdout)}`);
          return r;
        },
        5000,
        200,
      );
      expect(result.stdout).toBe('neighbour\n');
      await finish(listening);
    }, 15_000);

    it('provides /etc/hosts naming the container and /etc/resolv.conf', async () => {
      const container = await ctx.create();
      const result = await runToEnd(container, sh('cat /etc/hosts; test -s /etc/resolv.conf && echo has-resolv'));
      expect(result.stdout).toContain((await container.info()).containerIp);
      expect(result.stdout).toContain('has-resolv');
    });
  });
}
