import {
  ArborError,
  ContainerNotFoundError,
  ContainerStoppedError,
  ExecutableNotFoundError,
  HandleAlreadyExistsError,
  HostPreconditionError,
  InvalidArgumentError,
  InvalidTarError,
  MAX_ECHO,
  PermissionDeniedError,
  PortInUseError,
  ProcessAlreadyExistsError,
  ProcessNotFoundError,
  PropertyNotFoundError,
  ResourceExhaustedError,
  ServiceUnavailableError,
  UnrecoverableError,
  fromWireError,
  toWireError,
} from './errors';

describe('error wire form', () => {
  const errors: ArborError[] = [
    new ContainerNotFoundError('web'),
    new ProcessNotFoundError('p1'),
    new PropertyNotFoundError('web', 'color'),
    new HandleAlreadyExistsError('web'),
    new ProcessAlreadyExistsError('p1'),
    new ExecutableNotFoundError('/bin/nope'),
    new InvalidArgumentError('limits.memory.limitInBytes', '-1 must be a whole number'),
    new InvalidTarError("entry '../x' leaves the destination"),
    new PermissionDeniedError('cannot write /root'),
    new ResourceExhaustedError('ports', 'port pool exhausted'),
    new PortInUseError(8080),
    new ContainerStoppedError('web'),
    new HostPreconditionError('volumizer: mkfs.btrfs not found: install btrfs-progs'),
    new ServiceUnavailableError('arbord is not running'),
    new UnrecoverableError('depot is corrupt'),
  ];

  it.each(errors.map((e) => [e.name, e]))('%s comes back as the same class with the same fields and text', (_n, err) => {
    const wire = JSON.parse(JSON.stringify(toWireError(err))) as ReturnType<typeof toWireError>;
    const back = fromWireError(wire);
    expect(back).toBeInstanceOf(err.constructor);
    expect(back.kind).toBe(err.kind);
    expect(back.message).toBe(err.message);
    expect(back.fields()).toEqual(err.fields());
  });

  it('keeps the message of an unknown class and falls back to its kind', () => {
    const back = fromWireError({ name: 'FutureError', kind: 'notFound', message: 'gone', fields: {} });
    expect(ArborError.is(back)).toBe(true);
    expect(back.kind).toBe('notFound');
    expect(back.message).toBe('gone');
  });

  it('turns a plain Error into an internal one', () => {
    expect(toWireError(new Error('disk on fire'))).toEqual({
      name: 'ArborError',
      kind: 'internal',
      message: 'disk on fire',
      fields: {},
    });
  });

  it('quotes at most MAX_ECHO characters of an input, in the message and the fields, and on the wire', () => {
    const big = 'k'.repeat(100 * 1024);
    for (const err of [
      new PropertyNotFoundError('web-1', big),
      new ExecutableNotFoundError(big),
      new InvalidArgumentError('env[0]', `${big} must look like KEY=VALUE`),
    ]) {
      expect(err.message.length).toBeLessThanOrEqual(MAX_ECHO);
      for (const value of Object.values(err.fields())) expect(value.length).toBeLessThanOrEqual(MAX_ECHO);
    }
    expect(new PropertyNotFoundError('web-1', big).property).toBe(`${'k'.repeat(MAX_ECHO - 3)}...`);
    // an internal error keeps its whole text for the log; its wire form is cut, as every error's
    const internal = new ArborError('internal', `arbor-tar: ${big}`);
    expect(internal.message.length).toBeGreaterThan(100 * 1024);
    expect(toWireError(internal).message.length).toBe(MAX_ECHO);
    expect(toWireError(new Error(big)).message.length).toBe(MAX_ECHO);
  });

  it('says what to fix in the messages users see most', () => {
    expect(new ContainerNotFoundError('h').message).toBe('unknown handle: h');
    expect(new ProcessNotFoundError('p').message).toBe('unknown process: p');
    expect(new HandleAlreadyExistsError('h').message).toBe("Handle 'h' already in use");
  });
});
