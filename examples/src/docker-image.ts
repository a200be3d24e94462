// docker-image: run a Docker image's own program in a container, as `docker run IMAGE` does:
// pull the image (with progress), create a container from it, run its entrypoint + cmd
// with its env, user and working directory, stream the output, destroy the container and
// exit with the program's exit status.
//
//   node examples/dist/docker-image.js IMAGE-URI [address]
//   node examples/dist/docker-image.js docker://127.0.0.1:5000/hello#1
//   node examples/dist/docker-image.js docker-archive:///tmp/hello.tar
// (address defaults to $ARBOR_ADDRESS, then unix:///run/arbor/arbord.sock; the backend
// must keep images: linux or runc, not fake.)
import { PassThrough } from 'node:stream';
import { GrpcClient, PullProgressView } from '@arbor/client';

async function main(): Promise<number> {
  const uri = process.argv[2];
  if (uri === undefined || uri === '') {
    console.error('usage: docker-image IMAGE-URI [address]');
    return 2;
  }
  const address = process.argv[3] ?? process.env.ARBOR_ADDRESS ?? 'unix:///run/arbor/arbord.sock';
  const image = {
    uri,
    ...(process.env.ARBOR_IMAGE_USERNAME && { username: process.env.ARBOR_IMAGE_USERNAME }),
    ...(process.env.ARBOR_IMAGE_PASSWORD && { password: process.env.ARBOR_IMAGE_PASSWORD }),
  };
  const client = await GrpcClient.connect(address);
  try {
    // PullImage's last event carries what the image brings: its entrypoint, cmd, env ...
    const view = new PullProgressView(uri, { stream: process.stderr, columns: process.stderr.isTTY ? process.stderr.columns : undefined });
    const pulled = await client.pullImage(image, view.onProgress).finally(() => view.finish());
    const program = [...pulled.entrypoint, ...pulled.cmd];
    const [path, ...args] = program;
    if (path === undefined) {
      console.error(`${uri} has neither an entrypoint nor a cmd: nothing to run`);
      return 1;
    }

    // The container gets the image's env; run gets its user and working directory from the
    // image too, unless a spec says otherwise. They are given here to show where they come from.
    const container = await client.create({ image, properties: { example: 'docker-image' } });
    console.error(`created ${container.handle}; running ${JSON.stringify(program)}`);
    try {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      stdout.pipe(process.stdout);
      stderr.pipe(process.stderr);
      const proc = await container.run(
        { path, args, ...(pulled.user && { user: pulled.user }), ...(pulled.workingDir && { dir: pulled.workingDir }) },
        { stdout, stderr },
      );
      const status = await proc.wait();
      console.error(`process ${proc.id} exited with ${status}`);
      return status;
    } finally {
      await client.destroy(container.handle);
      console.error(`destroyed ${container.handle}`);
    }
  } finally {
    client.close();
  }
}

main().then(
  (status) => {
    process.exitCode = status;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
