import { ArborError, type ErrorFields } from '@arbor/core';

/**
 * DigestMismatchError: content did not hash to the digest its manifest promised, like a
 * tampered layer. Nothing of that content is kept.
 */
export class DigestMismatchError extends ArborError {
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super('invalidArgument', `image: ${what} has digest ${actual}, expected ${expected}: refusing it`);
  }
  override fields(): ErrorFields {
    return { what: this.what, expected: this.expected, actual: this.actual };
  }
}
