import { ArborError, ContainerNotFoundError, ExecutableNotFoundError, ProcessNotFoundError, ServiceUnavailableError, UnrecoverableError } from '@arbor/core';
import { HttpError } from './http-connection';

/**
 * GardenErrorBody is Garden's marshalledError (garden/errors.go): every field is always
 * present; Type is '' for errors Garden has no type for, which its client rebuilds as a
 * plain error with Message.
 */
export interface GardenErrorBody {
  Type: '' | 'ContainerNotFoundError' | 'ProcessNotFoundError' | 'ExecutableNotFoundError' | 'ServiceUnavailableError' | 'UnrecoverableError';
  Message: string;
  Handle: string;
  ProcessID: string;
  Binary: string;
}

/**
 * toGardenError is Garden's writeError: 404 for the two not-found kinds Garden knows, 500
 * otherwise (Garden's client looks only at "2xx or not", then at Type); HTTP-level failures
 * (413 body too large, 400 malformed request) keep their own status.
 */
export function toGardenError(err: unknown): { status: number; body: GardenErrorBody } {
  const body: GardenErrorBody = { Type: '', Message: err instanceof Error ? err.message : String(err), Handle: '', ProcessID: '', Binary: '' };
  if (err instanceof HttpError) return { status: err.status, body };
  if (!ArborError.is(err)) return { status: 500, body };
  if (err instanceof ContainerNotFoundError || err.name === 'ContainerNotFoundError') {
    return { status: 404, body: { ...body, Type: 'ContainerNotFoundError', Handle: (err as ContainerNotFoundError).handle ?? '' } };
  }
  if (err instanceof ProcessNotFoundError || err.name === 'ProcessNotFoundError') {
    return { status: 404, body: { ...body, Type: 'ProcessNotFoundError', ProcessID: (err as ProcessNotFoundError).processId ?? '' } };
  }
  if (err instanceof ExecutableNotFoundError || err.name === 'ExecutableNotFoundError') {
    return { status: 500, body: { ...body, Type: 'ExecutableNotFoundError', Binary: (err as ExecutableNotFoundError).path ?? '' } };
  }
  if (err instanceof ServiceUnavailableError || err.name === 'ServiceUnavailableError') {
    return { status: 500, body: { ...body, Type: 'ServiceUnavailableError' } };
  }
  if (err instanceof UnrecoverableError || err.name === 'UnrecoverableError') {
    return { status: 500, body: { ...body, Type: 'UnrecoverableError' } };
  }
  return { status: 500, body };
}
