import { InvalidArgumentError, PortInUseError, ResourceExhaustedError } from '@arbor/core';
import { PortPool } from './port-pool';

describe('PortPool', () => {
  it('hands out ports from 61001 by default', () => {
    const pool = new PortPool();
    expect([pool.acquire(), pool.acquire()]).toEqual([61001, 61002]);
  });

  it('does not hand out a released port again until the pool has gone round', () => {
    const pool = new PortPool({ start: 5000, size: 3 });
    const first = pool.acquire();
    pool.release(first);
    expect([pool.acquire(), pool.acquire(), pool.acquire()]).toEqual([5001, 5002, 5000]);
  });

  it('skips ports that were reserved by number', () => {
    const pool = new PortPool({ start: 5000, size: 3 });
    pool.reserve(5000);
    expect(pool.acquire()).toBe(5001);
  });

  it('fails with ResourceExhaustedError(ports) when every port is taken', () => {
    const pool = new PortPool({ start: 5000, size: 2 });
    pool.acquire();
    pool.acquire();
    expect(() => pool.acquire()).toThrow(ResourceExhaustedError);
    try {
      pool.acquire();
    } catch (err) {
      expect(err).toMatchObject({ resource: 'ports' });
    }
  });

  it('reserves ports outside the pool, once', () => {
    const pool = new PortPool();
    pool.reserve(8080);
    expect(() => pool.reserve(8080)).toThrow(PortInUseError);
    pool.release(8080);
    expect(() => pool.reserve(8080)).not.toThrow();
  });

  it('refuses a port that was acquired from the pool', () => {
    const pool = new PortPool();
    const port = pool.acquire();
    expect(() => pool.reserve(port)).toThrow(PortInUseError);
  });

  it.each([0, 65536, 1.5])('refuses to reserve %s', (port) => {
    expect(() => new PortPool().reserve(port)).toThrow(InvalidArgumentError);
  });

  it('refuses a pool that runs past 65535', () => {
    expect(() => new PortPool({ start: 65000, size: 536 })).not.toThrow();
    expect(() => new PortPool({ start: 65000, size: 537 })).toThrow(InvalidArgumentError);
    expect(() => new PortPool({ start: 0 })).toThrow(InvalidArgumentError);
  });
});
