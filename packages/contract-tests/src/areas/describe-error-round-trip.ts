import { Readable } from 'node:stream';
import {
  ArborError,
  ContainerNotFoundError,
  ContainerStoppedError,
  ExecutableNotFoundError,
  HandleAlreadyExistsError,
  InvalidArgumentError,
  InvalidTarError,
  PermissionDeniedError,
  PortInUseError,
  ProcessAlreadyExistsError,
  ProcessNotFoundError,
  PropertyNotFoundError,
  ResourceExhaustedError,
} from '@arbor/core';
import type { ArborErrorKind, ErrorFields } from '@arbor/core';
import { steps } from '@arbor/probes';
import type { ContractContext } from '../contract-context';
import { probe, probeWith, startProcess } from '../helpers/run-process';
import { tarStream } from '../helpers/tar';

/** Case is one typed error: how to provoke it and what must arrive. */
interface Case {
  errorClass: abstract new (...args: never[]) => ArborError;
  kind: ArborErrorKind;
  provoke(ctx: ContractContext): Promise<{ promise: Promise<unknown>; fields: ErrorFields; message?: RegExp }>;
}

const cases: Case[] = [
  {
    errorClass: ContainerNotFoundError,
    kind: 'notFound',
    provoke: async (ctx) => {
      const handle = ctx.unique('ghost');
      return { promise: ctx.client.lookup(handle), fields: { handle }, message: new RegExp(`^unknown handle: ${handle}$`) };
    },
  },
  {
    errorClass: ProcessNotFoundError,
    kind: 'notFound',
    provoke: async (ctx) => {
      const c = await ctx.create();
      return { promise: c.attach('ghost-process', {}), fields: { processId: 'ghost-process' }, message: /^unknown process: ghost-process$/ };
    },
  },
  {
    errorClass: PropertyNotFoundError,
    kind: 'notFound',
    provoke: async (ctx) => {
      const c = await ctx.create();
      return { promise: c.property('nope'), fields: { handle: c.handle, property: 'nope' } };
    },
  },
  {
    errorClass: ExecutableNotFoundError,
    kind: 'notFound',
    provoke: async (ctx) => {
      const c = await ctx.create();
      return { promise: c.run({ path: '/nowhere/bin' }, {}), fields: { path: '/nowhere/bin' } };
    },
  },
  {
    errorClass: HandleAlreadyExistsError,
    kind: 'alreadyExists',
    provoke: async (ctx) => {
      const c = await ctx.create();
      return { promise: ctx.client.create({ handle: c.handle }), fields: { handle: c.handle }, message: /already in use/ };
    },
  },
  {
    errorClass: ProcessAlreadyExistsError,
    kind: 'alreadyExists',
    provoke: async (ctx) => {
      const c = await ctx.create();
      await startProcess(c, probeWith({ id: 'twice' }, steps.sleep(100)));
      return { promise: c.run(probeWith({ id: 'twice' }, steps.exit(0)), {}), fields: { processId: 'twice' } };
    },
  },
  {
    errorClass: PortInUseError,
    kind: 'alreadyExists',
    provoke: async (ctx) => {
      const c = await ctx.create();
      await c.netIn(60371, 80);
      return { promise: c.netIn(60371, 81), fields: { port: '60371' } };
    },
  },
  {
    errorClass: InvalidArgumentError,
    kind: 'invalidArgument',
    provoke: async (ctx) => {
      const c = await ctx.create();
      return { promise: c.limitMemory({ limitInBytes: -1 }), fields: { field: 'limits.memory.limitInBytes' } };
    },
  },
  {
    errorClass: InvalidTarError,
    kind: 'invalidArgument',
    provoke: async (ctx) => {
      const c = await ctx.create();
      const garbage = Buffer.alloc(1024, 0x41);
      return { promise: c.streamIn({ path: '/x', tar: Readable.from([garbage]) }), fields: {}, message: /^invalid tar stream: / };
    },
  },
  {
    errorClass: PermissionDeniedError,
    kind: 'permissionDenied',
    provoke: async (ctx) => {
      const c = await ctx.create();
      const tar = await tarStream([{ name: 'f', content: 'f' }]);
      return { promise: c.streamIn({ path: '/etc/denied', user: 'nobody', tar }), fields: {} };
    },
  },
  {
    errorClass: ResourceExhaustedError,
    kind: 'resourceExhausted',
    provoke: async (ctx) => {
      const server = await ctx.extraServer({ maxContainers: 1 });
      await ctx.create({}, server.client);
      return { promise: server.client.create({}), fields: { resource: 'containers' } };
    },
  },
  {
    errorClass: ContainerStoppedError,
    kind: 'failedPrecondition',
    provoke: async (ctx) => {
      const c = await ctx.create();
      await c.stop(true);
      return { promise: c.run(probe(steps.exit(0)), {}), fields: { handle: c.handle } };
    },
  },
];

export function describeErrorRoundTrip(ctx: ContractContext): void {
  describe('typed errors arrive as the same class, kind and fields', () => {
    it.each(cases.map((c) => [c.errorClass.name, c] as const))('%s', async (_name, c) => {
      const { promise, fields, message } = await c.provoke(ctx);
      const err: unknown = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(c.errorClass);
      expect(ArborError.is(err)).toBe(true);
      const arbor = err as ArborError;
      expect(arbor.name).toBe(c.errorClass.name);
      expect(arbor.kind).toBe(c.kind);
      expect(arbor.fields()).toEqual(fields);
      expect(arbor.message.length).toBeGreaterThan(0);
      if (message) expect(arbor.message).toMatch(message);
    });
  });
}
