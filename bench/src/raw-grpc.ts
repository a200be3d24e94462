import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials, credentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { GardenClient, GardenService } from '@arbor/proto';

/**
 * withRawGrpcServer serves the Garden service with handlers that answer at once, over a unix
 * socket: the floor any gRPC server on this machine can reach, to compare arbord against.
 */
export async function withRawGrpcServer<T>(fn: (ping: () => Promise<void>) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'arbor-bench-raw-'));
  const address = `unix://${join(dir, 'raw.sock')}`;
  const server = new Server();
  const handlers: UntypedServiceImplementation = {};
  for (const name of Object.keys(GardenService)) {
    handlers[name] = (_call: unknown, callback: (err: null, res: object) => void) => callback(null, {});
  }
  server.addService(GardenService, handlers);
  await new Promise<void>((resolve, reject) => server.bindAsync(address, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  const client = new GardenClient(address, credentials.createInsecure());
  const ping = (): Promise<void> => new Promise((resolve, reject) => client.ping({}, (err) => (err ? reject(err) : resolve())));
  try {
    return await fn(ping);
  } finally {
    client.close();
    server.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  }
}
