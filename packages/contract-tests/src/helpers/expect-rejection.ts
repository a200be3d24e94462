import { ArborError } from '@arbor/core';

// ErrorClass is any ArborError subclass, like ContainerNotFoundError.
type ErrorClass<E extends ArborError> = abstract new (...args: never[]) => E;

/**
 * expectRejection asserts that promise rejects with exactly the @arbor/core class given (so
 * it survived the trip over any wire), and that the error matches the expected fields, like
 * { handle: 'web-1', message: 'unknown handle: web-1' }. It returns the error.
 */
export async function expectRejection<E extends ArborError>(
  promise: Promise<unknown>,
  errorClass: ErrorClass<E>,
  expected: Partial<Record<keyof E, unknown>> = {},
): Promise<E> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) throw new Error(`expected a ${errorClass.name}, but the call succeeded`);
  if (!(caught instanceof errorClass)) {
    const seen = caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught);
    throw new Error(`expected a ${errorClass.name}, got ${seen}`);
  }
  expect(ArborError.is(caught)).toBe(true);
  expect(caught.name).toBe(errorClass.name);
  expect(caught).toMatchObject(expected);
  return caught;
}
