// restart-child is arbord for the restart test: it starts a process in a new container,
// prints '<handle>' once the process runs, and waits to be killed with SIGKILL.
// usage: node dist/testing/restart-child.js <stateDir> <script>
import { PassThrough } from 'node:stream';
import { backendFor } from './test-backend';

async function main(): Promise<void> {
  const [stateDir, script] = process.argv.slice(2);
  if (!stateDir || !script) throw new Error('usage: restart-child <stateDir> <script>');
  const backend = await backendFor(stateDir, { stopTimeoutMs: 10_000 });
  await backend.start();
  const container = await backend.create({});
  // a stdin that never ends: the process's input stays open across the kill
  await container.run({ id: 'survivor', path: 'sh', args: ['-c', script] }, { stdin: new PassThrough() });
  process.stdout.write(`${container.handle}\n`);
  setInterval(() => undefined, 1 << 30);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
