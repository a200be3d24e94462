import { InvalidArgumentError, PortInUseError, ResourceExhaustedError } from '@arbor/core';

export interface PortPoolOptions {
  /** start is the first port of the pool, like 61001. */
  start?: number;
  /** size is how many ports the pool holds, like 4534 (61001-65534). */
  size?: number;
}

export const DEFAULT_PORT_POOL_START = 61001;
export const DEFAULT_PORT_POOL_SIZE = 4534;

const MAX_PORT = 65535;

/**
 * PortPool hands out host ports for NetIn. acquire takes the next free pool port after the
 * last one handed out, so a port just released is not reused at once; reserve takes a
 * named port, in the pool or not. Pure bookkeeping: no sockets are opened.
 */
export class PortPool {
  readonly start: number;
  readonly size: number;
  private readonly taken = new Set<number>();
  /** cursor is the offset in the pool where the search for a free port begins. */
  private cursor = 0;

  constructor(options: PortPoolOptions = {}) {
    const start = options.start ?? DEFAULT_PORT_POOL_START;
    const size = options.size ?? DEFAULT_PORT_POOL_SIZE;
    if (!Number.isInteger(start) || start < 1 || start > MAX_PORT) {
      throw new InvalidArgumentError('portPoolStart', `${start} is not a port (1-${MAX_PORT})`);
    }
    if (!Number.isInteger(size) || size < 1 || start + size - 1 > MAX_PORT) {
      throw new InvalidArgumentError('portPoolSize', `${size} ports from ${start} do not fit below ${MAX_PORT + 1}: use 1 to ${MAX_PORT - start + 1}`);
    }
    this.start = start;
    this.size = size;
  }

  /** acquire takes a free port from the pool. @throws ResourceExhaustedError('ports') */
  acquire(): number {
    for (let i = 0; i < this.size; i++) {
      const offset = (this.cursor + i) % this.size;
      const port = this.start + offset;
      if (this.taken.has(port)) continue;
      this.taken.add(port);
      this.cursor = (offset + 1) % this.size;
      return port;
    }
    throw new ResourceExhaustedError(
      'ports',
      `all ${this.size} ports of the pool ${this.start}-${this.start + this.size - 1} are mapped: release one or configure a larger pool`,
    );
  }

  /** reserve takes port, inside the pool or outside it. @throws PortInUseError, InvalidArgumentError */
  reserve(port: number): void {
    if (!Number.isInteger(port) || port < 1 || port > MAX_PORT) {
      throw new InvalidArgumentError('hostPort', `${port} is not a port (1-${MAX_PORT})`);
    }
    if (this.taken.has(port)) throw new PortInUseError(port);
    this.taken.add(port);
  }

  /** release frees port; releasing a free port is fine. */
  release(port: number): void {
    this.taken.delete(port);
  }

  /** isTaken says whether port is held. */
  isTaken(port: number): boolean {
    return this.taken.has(port);
  }
}
