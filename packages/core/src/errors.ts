/**
 * ArborErrorKind is the family of an error; it alone decides the gRPC status code.
 */
export type ArborErrorKind =
  'notFound' | 'alreadyExists' | 'invalidArgument' | 'resourceExhausted' | 'failedPrecondition' | 'permissionDenied' | 'unavailable' | 'internal';

const brand = Symbol.for('@arbor/core/ArborError');

/** ErrorFields are the string fields an error carries over the wire, like { handle: 'web-1' }. */
export type ErrorFields = Record<string, string>;

/**
 * MAX_ECHO is the most an error repeats of what a caller sent, in characters: in each field
 * (a 256-character handle fits) and in a message. A 100 KB property name echoed whole went
 * past the 8 KiB of metadata a default gRPC client accepts, which then saw RESOURCE_EXHAUSTED,
 * or a call that never ended, instead of the error.
 */
export const MAX_ECHO = 1024;

/** clipEcho is text cut to MAX_ECHO characters, '...' marking a cut, like 'kkkk...'. */
export function clipEcho(text: string): string {
  return text.length > MAX_ECHO ? `${text.slice(0, MAX_ECHO - 3)}...` : text;
}

/**
 * ArborError is the one error type of the API. Subclasses carry fields; every subclass is
 * registered so that a client can rebuild the same class from its wire form (toWire/fromWire).
 */
export class ArborError extends Error {
  readonly [brand] = true;
  readonly kind: ArborErrorKind;

  /** message is cut to MAX_ECHO characters but for an internal error, whose whole text (a helper's stderr) goes to the log. */
  constructor(kind: ArborErrorKind, message: string, options?: { cause?: unknown }) {
    super(kind === 'internal' ? message : clipEcho(message), options);
    this.kind = kind;
    this.name = new.target.name;
  }

  /** is works across package copies, where instanceof does not. */
  static is(err: unknown): err is ArborError {
    return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[brand] === true;
  }

  /** fields are the values a client needs to rebuild this error; subclasses add theirs. */
  fields(): ErrorFields {
    return {};
  }
}

export class ContainerNotFoundError extends ArborError {
  constructor(readonly handle: string) {
    super('notFound', `unknown handle: ${handle}`);
  }
  override fields(): ErrorFields {
    return { handle: this.handle };
  }
}

export class ProcessNotFoundError extends ArborError {
  constructor(readonly processId: string) {
    super('notFound', `unknown process: ${processId}`);
  }
  override fields(): ErrorFields {
    return { processId: this.processId };
  }
}

export class PropertyNotFoundError extends ArborError {
  readonly handle: string;
  /** property is the name asked for, cut to MAX_ECHO: a caller may ask for any name. */
  readonly property: string;

  constructor(handle: string, property: string) {
    super('notFound', `container '${handle}' has no property '${clipEcho(property)}'`);
    this.handle = handle;
    this.property = clipEcho(property);
  }
  override fields(): ErrorFields {
    return { handle: this.handle, property: this.property };
  }
}

export class HandleAlreadyExistsError extends ArborError {
  constructor(readonly handle: string) {
    super('alreadyExists', `Handle '${handle}' already in use`);
  }
  override fields(): ErrorFields {
    return { handle: this.handle };
  }
}

export class ProcessAlreadyExistsError extends ArborError {
  constructor(readonly processId: string) {
    // Garden's wording (guardian's process dir depot), which existing clients match on
    super('alreadyExists', `process ID '${processId}' already in use: choose another id or leave it empty`);
  }
  override fields(): ErrorFields {
    return { processId: this.processId };
  }
}

export class ExecutableNotFoundError extends ArborError {
  /** path is the executable asked for, cut to MAX_ECHO: a caller may name any path. */
  readonly path: string;

  constructor(path: string) {
    super('notFound', `executable not found: ${clipEcho(path)}`);
    this.path = clipEcho(path);
  }
  override fields(): ErrorFields {
    return { path: this.path };
  }
}

/** InvalidArgumentError names the field at fault, like 'limits.memory.limitInBytes'. */
export class InvalidArgumentError extends ArborError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('invalidArgument', `${field}: ${message}`);
  }
  override fields(): ErrorFields {
    return { field: this.field };
  }
}

/** InvalidTarError: the tar stream is truncated, corrupt or tries to leave the container. */
export class InvalidTarError extends ArborError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalidArgument', `invalid tar stream: ${message}`, options);
  }
}

export class PermissionDeniedError extends ArborError {
  constructor(message: string) {
    super('permissionDenied', message);
  }
}

/** ResourceExhaustedError: a pool or a cap is used up (containers, ports, addresses). */
export class ResourceExhaustedError extends ArborError {
  constructor(
    readonly resource: string,
    message: string,
  ) {
    super('resourceExhausted', message);
  }
  override fields(): ErrorFields {
    return { resource: this.resource };
  }
}

export class PortInUseError extends ArborError {
  constructor(readonly port: number) {
    super('alreadyExists', `host port ${port} is already mapped: choose another or pass 0 for one from the pool`);
  }
  override fields(): ErrorFields {
    return { port: String(this.port) };
  }
}

/** ContainerStoppedError: the call needs a running container, and this one was stopped. */
export class ContainerStoppedError extends ArborError {
  constructor(readonly handle: string) {
    super('failedPrecondition', `container '${handle}' is stopped: only streaming, info and destroy work now`);
  }
  override fields(): ErrorFields {
    return { handle: this.handle };
  }
}

/**
 * HostPreconditionError: the host lacks something the server needs, like a tool that is not
 * installed (mkfs.btrfs, iptables, runc) or a directory on the wrong filesystem; its message
 * says what is missing and how to fix it. No request can work around it: an operator must.
 */
export class HostPreconditionError extends ArborError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('failedPrecondition', message, options);
  }
}

export class ServiceUnavailableError extends ArborError {
  constructor(message: string) {
    super('unavailable', message);
  }
}

/** UnrecoverableError is Ping's way to say the server is sick and must be restarted. */
export class UnrecoverableError extends ArborError {
  constructor(message: string) {
    super('internal', message);
  }
}

/** WireError is the serialisable form of an ArborError. */
export interface WireError {
  name: string;
  kind: ArborErrorKind;
  message: string;
  fields: ErrorFields;
}

/**
 * toWireError is err's serialisable form, every text cut to MAX_ECHO whatever made the error:
 * it goes into a gRPC trailer, which a client refuses beyond 8 KiB.
 */
export function toWireError(err: unknown): WireError {
  if (ArborError.is(err)) {
    const fields = Object.fromEntries(Object.entries(err.fields()).map(([k, v]) => [k, clipEcho(v)]));
    return { name: err.name, kind: err.kind, message: clipEcho(err.message), fields };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { name: 'ArborError', kind: 'internal', message: clipEcho(message), fields: {} };
}

const kinds: ReadonlySet<string> = new Set<ArborErrorKind>([
  'notFound',
  'alreadyExists',
  'invalidArgument',
  'resourceExhausted',
  'failedPrecondition',
  'permissionDenied',
  'unavailable',
  'internal',
]);

type Rebuilder = (wire: WireError) => ArborError;
const f = (w: WireError, k: string): string => w.fields[k] ?? '';

// rebuilders map a class name to a function that makes the same class from its fields.
const rebuilders: Record<string, Rebuilder> = {
  ContainerNotFoundError: (w) => new ContainerNotFoundError(f(w, 'handle')),
  ProcessNotFoundError: (w) => new ProcessNotFoundError(f(w, 'processId')),
  PropertyNotFoundError: (w) => new PropertyNotFoundError(f(w, 'handle'), f(w, 'property')),
  HandleAlreadyExistsError: (w) => new HandleAlreadyExistsError(f(w, 'handle')),
  ProcessAlreadyExistsError: (w) => new ProcessAlreadyExistsError(f(w, 'processId')),
  ExecutableNotFoundError: (w) => new ExecutableNotFoundError(f(w, 'path')),
  InvalidArgumentError: (w) => new InvalidArgumentError(f(w, 'field'), w.message.slice(f(w, 'field').length + 2)),
  InvalidTarError: (w) => new InvalidTarError(w.message.replace(/^invalid tar stream: /, '')),
  PermissionDeniedError: (w) => new PermissionDeniedError(w.message),
  ResourceExhaustedError: (w) => new ResourceExhaustedError(f(w, 'resource'), w.message),
  PortInUseError: (w) => new PortInUseError(Number(f(w, 'port'))),
  ContainerStoppedError: (w) => new ContainerStoppedError(f(w, 'handle')),
  HostPreconditionError: (w) => new HostPreconditionError(w.message),
  ServiceUnavailableError: (w) => new ServiceUnavailableError(w.message),
  UnrecoverableError: (w) => new UnrecoverableError(w.message),
};

/** fromWireError rebuilds the class that toWireError described; unknown names stay ArborError. */
export function fromWireError(wire: WireError): ArborError {
  const rebuild = rebuilders[wire.name];
  if (rebuild) {
    const err = rebuild(wire);
    // keep the server's exact text, even where a constructor would word it differently
    err.message = wire.message;
    return err;
  }
  const kind: ArborErrorKind = kinds.has(wire.kind) ? wire.kind : 'internal';
  return new ArborError(kind, wire.message);
}
