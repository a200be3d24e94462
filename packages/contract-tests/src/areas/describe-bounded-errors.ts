import { ArborError, ExecutableNotFoundError, InvalidArgumentError, MAX_ECHO, PropertyNotFoundError } from '@arbor/core';
import type { Client, Container } from '@arbor/core';
import type { ContractContext } from '../contract-context';

/** BIG is 100 KB: far beyond the 8 KiB of metadata a default gRPC client accepts. */
const BIG = 100 * 1024;

/** Case is a call with one 100 KB input and the class it must fail with. */
interface Case {
  input: string;
  errorClass: abstract new (...args: never[]) => ArborError;
  call(client: Client, container: Container): Promise<unknown>;
}

const big = (c: string): string => c.repeat(BIG);

const cases: Case[] = [
  { input: 'handle at create', errorClass: InvalidArgumentError, call: (client) => client.create({ handle: big('h') }) },
  { input: 'handle at lookup', errorClass: InvalidArgumentError, call: (client) => client.lookup(big('h')) },
  { input: 'handle at destroy', errorClass: InvalidArgumentError, call: (client) => client.destroy(big('h')) },
  { input: 'process id at run', errorClass: InvalidArgumentError, call: (_client, c) => c.run({ id: big('p'), path: 'true' }, {}) },
  { input: 'process id at attach', errorClass: InvalidArgumentError, call: (_client, c) => c.attach(big('p'), {}) },
  { input: 'property name', errorClass: PropertyNotFoundError, call: (_client, c) => c.property(big('k')) },
  { input: 'property name to remove', errorClass: PropertyNotFoundError, call: (_client, c) => c.removeProperty(big('k')) },
  { input: 'executable path', errorClass: ExecutableNotFoundError, call: (_client, c) => c.run({ path: `/bin/${big('x')}` }, {}) },
  { input: 'user', errorClass: InvalidArgumentError, call: (_client, c) => c.run({ path: 'true', user: big('u') }, {}) },
  { input: 'env entry', errorClass: InvalidArgumentError, call: (_client, c) => c.run({ path: 'true', env: [big('e')] }, {}) },
  { input: 'stream-out path', errorClass: InvalidArgumentError, call: (_client, c) => c.streamOut({ path: `/${big('s')}` }) },
  { input: 'image URI', errorClass: InvalidArgumentError, call: (client) => client.create({ image: { uri: `nope://${big('i')}` } }) },
  {
    input: 'bind-mount source',
    errorClass: InvalidArgumentError,
    call: (client) => client.create({ bindMounts: [{ srcPath: `/${big('b')}`, dstPath: '/mnt', mode: 'ro', origin: 'host' }] }),
  },
];

/**
 * describeBoundedErrors: an error quotes the caller's input only up to a bound. A 100 KB
 * input must come back as the error it earns (over gRPC: the status code and the
 * arbor-error-bin trailer), not as the RESOURCE_EXHAUSTED a client reports for a trailer
 * beyond its 8 KiB of metadata, and its message and fields stay short.
 */
export function describeBoundedErrors(ctx: ContractContext): void {
  describe('errors quote a 100 KB input only up to a bound', () => {
    it.each(cases.map((c) => [c.input, c] as const))('a 100 KB %s', async (_input, c) => {
      const container = await ctx.create();
      const err: unknown = await c.call(ctx.client, container).then(
        () => new Error('the call succeeded'),
        (e: unknown) => e,
      );
      if (!(err instanceof c.errorClass)) {
        const seen = err instanceof Error ? `${err.name}: ${err.message.slice(0, 200)}` : String(err);
        throw new Error(`expected a ${c.errorClass.name}, got ${seen}`);
      }
      expect(err.message.length).toBeGreaterThan(0);
      expect(err.message.length).toBeLessThanOrEqual(MAX_ECHO);
      for (const value of Object.values(err.fields())) expect(value.length).toBeLessThanOrEqual(MAX_ECHO);
    });
  });
}
