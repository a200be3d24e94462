import { InvalidArgumentError } from '@arbor/core';
import type { ServiceDefinition } from '@grpc/grpc-js';

/**
 * UndecodableMessage stands in for a request that could not be decoded (like a uint64 above
 * 2^53). grpc-js answers a failed decode with INTERNAL; handing the handler this marker
 * instead lets it answer INVALID_ARGUMENT, as for any other bad input.
 */
export class UndecodableMessage {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {}

  toError(): InvalidArgumentError {
    return new InvalidArgumentError('request', `cannot decode a message for ${this.path}: ${this.reason}`);
  }
}

/** decoded returns the message, or throws InvalidArgumentError for an UndecodableMessage. */
export function decoded<T>(message: T): T {
  if ((message as unknown) instanceof UndecodableMessage) throw (message as unknown as UndecodableMessage).toError();
  return message;
}

/** tolerantDefinition wraps every request decoder of a service so that it never throws. */
export function tolerantDefinition<S extends ServiceDefinition>(definition: S): S {
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    wrapped[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return new UndecodableMessage(method.path, err instanceof Error ? err.message : String(err));
        }
      },
    };
  }
  return wrapped as S;
}
