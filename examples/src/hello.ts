// hello: create a container, stream a script into it, run it, stream a file back out, destroy.
//
//   node examples/dist/hello.js [address]     (default: unix:///run/arbor/arbord.sock)
import { PassThrough } from 'node:stream';
import { GrpcClient } from '@arbor/client';
import { packFiles, readTarFiles } from './tar-files';

async function main(): Promise<void> {
  const address = process.argv[2] ?? process.env.ARBOR_ADDRESS ?? 'unix:///run/arbor/arbord.sock';
  const client = await GrpcClient.connect(address);
  const container = await client.create({ properties: { example: 'hello' } });
  console.log(`created ${container.handle}`);
  try {
    const script = '#!/bin/sh\necho "hello from $(whoami) in $(pwd)"\necho done > /tmp/greeted\n';
    await container.streamIn({ path: '/home/vcap', tar: packFiles({ 'greet.sh': { content: script, mode: 0o755 } }) });

    const stdout = new PassThrough();
    stdout.pipe(process.stdout);
    const proc = await container.run({ path: '/home/vcap/greet.sh', user: 'vcap' }, { stdout, stderr: process.stderr });
    const status = await proc.wait();
    console.log(`process ${proc.id} exited with ${status}`);

    const files = await readTarFiles(await container.streamOut({ path: '/tmp/greeted' }));
    console.log(`streamed out /tmp/greeted: ${JSON.stringify(files['greeted'])}`);
  } finally {
    await client.destroy(container.handle);
    console.log(`destroyed ${container.handle}`);
    client.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
