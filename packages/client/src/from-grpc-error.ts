import { status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { ArborError, ServiceUnavailableError, fromWireError } from '@arbor/core';
import type { ArborErrorKind, ErrorFields } from '@arbor/core';
import { ErrorDetail } from '@arbor/proto';

/** ERROR_METADATA_KEY is the trailer in which arbord sends an encoded ErrorDetail. */
export const ERROR_METADATA_KEY = 'arbor-error-bin';

const kinds = new Map<number, ArborErrorKind>([
  [status.NOT_FOUND, 'notFound'],
  [status.ALREADY_EXISTS, 'alreadyExists'],
  [status.INVALID_ARGUMENT, 'invalidArgument'],
  [status.OUT_OF_RANGE, 'invalidArgument'],
  [status.RESOURCE_EXHAUSTED, 'resourceExhausted'],
  [status.FAILED_PRECONDITION, 'failedPrecondition'],
  [status.PERMISSION_DENIED, 'permissionDenied'],
  [status.UNAUTHENTICATED, 'permissionDenied'],
  [status.UNAVAILABLE, 'unavailable'],
]);

/** errorFromDetail rebuilds the typed error an ErrorDetail describes (from a trailer or a bulk entry). */
export function errorFromDetail(detail: ErrorDetail): ArborError {
  return fromWireError({
    name: detail.name,
    kind: detail.kind as ArborErrorKind,
    message: detail.message,
    fields: { ...detail.fields } as ErrorFields,
  });
}

function isServiceError(err: unknown): err is ServiceError {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number' && 'metadata' in err;
}

/**
 * fromGrpcError turns a failed call into the ArborError the server threw: from the
 * 'arbor-error-bin' trailer when there is one, else from the status code alone.
 * target names the server tried, for the message when it cannot be reached.
 */
export function fromGrpcError(err: unknown, target: string): Error {
  if (ArborError.is(err)) return err;
  if (!isServiceError(err)) return err instanceof Error ? err : new Error(String(err));
  const trailer = err.metadata?.get(ERROR_METADATA_KEY)[0];
  if (trailer !== undefined && typeof trailer !== 'string') {
    try {
      return errorFromDetail(ErrorDetail.decode(trailer));
    } catch {
      // not ours: fall through to the status code
    }
  }
  const kind = kinds.get(err.code);
  if (kind === 'unavailable') {
    return new ServiceUnavailableError(
      `cannot reach arbord at ${target}: ${err.details || 'unavailable'}. ` +
        'Is it running? Start it with `arbord` (or `arbord --listen <address>`), ' +
        'or point the client elsewhere with --address / ARBOR_ADDRESS',
    );
  }
  if (err.code === status.CANCELLED) return new ArborError('unavailable', `call to ${target} cancelled: ${err.details}`);
  return new ArborError(kind ?? 'internal', err.details || err.message);
}
