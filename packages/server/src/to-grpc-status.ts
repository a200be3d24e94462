import { Metadata, status } from '@grpc/grpc-js';
import type { StatusObject } from '@grpc/grpc-js';
import { ArborError, HostPreconditionError, toWireError } from '@arbor/core';
import type { ArborErrorKind, Logger } from '@arbor/core';
import { ErrorDetail } from '@arbor/proto';

/** ERROR_METADATA_KEY is the trailer holding an encoded ErrorDetail; '-bin' makes it binary. */
export const ERROR_METADATA_KEY = 'arbor-error-bin';

const codes: Record<ArborErrorKind, status> = {
  notFound: status.NOT_FOUND,
  alreadyExists: status.ALREADY_EXISTS,
  invalidArgument: status.INVALID_ARGUMENT,
  resourceExhausted: status.RESOURCE_EXHAUSTED,
  failedPrecondition: status.FAILED_PRECONDITION,
  permissionDenied: status.PERMISSION_DENIED,
  unavailable: status.UNAVAILABLE,
  internal: status.INTERNAL,
};

/** ORIGINAL_ERROR keys, on a status toGrpcStatus made, the error it was made from: never sent, read by metrics (errorOfStatus). */
const ORIGINAL_ERROR = Symbol('@arbor/server/originalError');

/** errorOfStatus is the error a status from toGrpcStatus was made from; undefined for any other status. */
export function errorOfStatus(statusObject: object): unknown {
  return (statusObject as { [ORIGINAL_ERROR]?: unknown })[ORIGINAL_ERROR];
}

function withOriginal(statusObject: StatusObject, err: unknown): StatusObject {
  Object.defineProperty(statusObject, ORIGINAL_ERROR, { value: err, enumerable: false });
  return statusObject;
}

/** encodeErrorDetail is the wire form of an error, for the trailer and for bulk results. */
export function encodeErrorDetail(err: unknown): ErrorDetail {
  const wire = toWireError(err);
  return { name: wire.name, kind: wire.kind, message: wire.message, fields: wire.fields };
}

/**
 * toGrpcStatus is the one place errors become gRPC statuses: the code comes from the
 * ArborError kind (anything else is INTERNAL), and the trailer 'arbor-error-bin' carries
 * the ErrorDetail so clients rebuild the same class. It logs the error, once: internal
 * and unexpected errors, and what the host lacks (HostPreconditionError: an operator must
 * act), at error level; the caller's mistakes at debug level.
 */
export function toGrpcStatus(err: unknown, log?: Logger): StatusObject {
  const metadata = new Metadata();
  const detail = encodeErrorDetail(err);
  metadata.set(ERROR_METADATA_KEY, Buffer.from(ErrorDetail.encode(detail).finish()));
  if (!ArborError.is(err)) {
    log?.error('unexpected-error', { error: err });
    return withOriginal({ code: status.INTERNAL, details: `internal error: ${detail.message}`, metadata }, err);
  }
  if (err.kind === 'internal' || err instanceof HostPreconditionError) log?.error('call-failed', { error: err });
  else log?.debug('call-failed', { error: err.message, kind: err.kind });
  return withOriginal({ code: codes[err.kind], details: detail.message, metadata }, err);
}
