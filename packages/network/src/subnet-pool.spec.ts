import { ArborError, InvalidArgumentError, ResourceExhaustedError } from '@arbor/core';
import { SubnetPool } from './subnet-pool';

describe('SubnetPool', () => {
  describe("a '' request", () => {
    it('takes the first /30 of the default pool: gateway .1, container .2', () => {
      const pool = new SubnetPool();
      expect(pool.allocate('a', '')).toEqual({
        containerIp: '10.254.0.2',
        hostIp: '10.254.0.1',
        subnet: '10.254.0.0/30',
        prefixLength: 30,
      });
      expect(pool.allocate('b', '').containerIp).toBe('10.254.0.6');
    });

    it('reuses a released /30 last, after the rest of the pool', () => {
      const pool = new SubnetPool({ pool: '10.254.0.0/28' });
      pool.allocate('a', '');
      pool.allocate('b', '');
      pool.release('a');
      expect(pool.allocate('c', '').subnet).toBe('10.254.0.8/30');
      expect(pool.allocate('d', '').subnet).toBe('10.254.0.12/30');
      expect(pool.allocate('e', '').subnet).toBe('10.254.0.0/30');
      expect(() => pool.allocate('f', '')).toThrow(/no free \/30/);
    });

    it('skips /30s inside a subnet someone asked for by name', () => {
      const pool = new SubnetPool();
      pool.allocate('a', '10.254.0.0/29');
      expect(pool.allocate('b', '').subnet).toBe('10.254.0.8/30');
    });

    it('fails with ResourceExhaustedError(ips) when the pool is full', () => {
      const pool = new SubnetPool({ pool: '10.0.0.0/29' });
      pool.allocate('a', '');
      pool.allocate('b', '');
      const err = catchError(() => pool.allocate('c', ''));
      expect(err).toBeInstanceOf(ResourceExhaustedError);
      expect(err).toMatchObject({ resource: 'ips' });
      expect(err.message).toContain('10.0.0.0/29');
    });
  });

  describe('a subnet request', () => {
    it('shares the subnet: one gateway, each container the next free address', () => {
      const pool = new SubnetPool();
      const a = pool.allocate('a', '10.254.1.0/24');
      const b = pool.allocate('b', '10.254.1.0/24');
      expect(a).toEqual({ containerIp: '10.254.1.2', hostIp: '10.254.1.1', subnet: '10.254.1.0/24', prefixLength: 24 });
      expect(b).toMatchObject({ containerIp: '10.254.1.3', hostIp: '10.254.1.1' });
    });

    it('allows subnets outside the pool', () => {
      const pool = new SubnetPool();
      expect(pool.allocate('a', '192.168.7.0/24')).toMatchObject({ containerIp: '192.168.7.2', hostIp: '192.168.7.1' });
    });

    it('refuses a subnet overlapping an allocated subnet of another size', () => {
      const pool = new SubnetPool();
      pool.allocate('a', '10.254.1.0/24');
      const err = catchError(() => pool.allocate('b', '10.254.1.0/30'));
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect(err.message).toContain('overlaps 10.254.1.0/24');
    });

    it('fails with ResourceExhaustedError(ips) when the subnet is full', () => {
      const pool = new SubnetPool();
      pool.allocate('a', '10.9.0.0/29'); // .2 to .6 are for containers
      for (const h of ['b', 'c', 'd', 'e']) pool.allocate(h, '10.9.0.0/29');
      expect(catchError(() => pool.allocate('f', '10.9.0.0/29'))).toMatchObject({ resource: 'ips' });
    });

    it('frees the subnet for another size once its last container is released', () => {
      const pool = new SubnetPool();
      pool.allocate('a', '10.254.1.0/24');
      pool.release('a');
      expect(pool.allocate('b', '10.254.1.0/30').containerIp).toBe('10.254.1.2');
    });
  });

  describe('an exact address', () => {
    it('gives that address', () => {
      const pool = new SubnetPool();
      expect(pool.allocate('a', '10.254.0.10/30')).toEqual({
        containerIp: '10.254.0.10',
        hostIp: '10.254.0.9',
        subnet: '10.254.0.8/30',
        prefixLength: 30,
      });
    });

    it.each([
      ['10.254.0.9/30', 'the gateway of 10.254.0.8/30'],
      ['10.254.0.11/30', 'the broadcast address of 10.254.0.8/30'],
    ])('refuses %s: %s', (request, text) => {
      const err = catchError(() => new SubnetPool().allocate('a', request));
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect(err).toMatchObject({ field: 'network' });
      expect(err.message).toContain(text);
    });

    it('refuses an address already taken', () => {
      const pool = new SubnetPool();
      pool.allocate('a', '10.254.2.5/24');
      const err = catchError(() => pool.allocate('b', '10.254.2.5/24'));
      expect(ArborError.is(err) && err.kind).toBe('alreadyExists');
      expect(err.message).toContain("10.254.2.5 is already taken by container 'a'");
    });

    it('takes the next free address around an exact one in a shared subnet', () => {
      const pool = new SubnetPool();
      pool.allocate('a', '10.254.2.2/24');
      expect(pool.allocate('b', '10.254.2.0/24').containerIp).toBe('10.254.2.3');
    });
  });

  it.each(['10.254.0.0', '10.254.0.0/31', '10.254.0/24', 'nonsense'])('refuses the bad request %s', (request) => {
    const err = catchError(() => new SubnetPool().allocate('a', request));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).toMatchObject({ field: 'network' });
  });

  it('refuses a second allocation for the same handle', () => {
    const pool = new SubnetPool();
    pool.allocate('a', '');
    expect(ArborError.is(catchError(() => pool.allocate('a', '')))).toBe(true);
  });

  it('says how many /30s it holds: 256 for the default /22, 1024 for a /20, one for a /30', () => {
    expect(new SubnetPool().size).toBe(256);
    expect(new SubnetPool({ pool: '10.254.0.0/20' }).size).toBe(1024);
    expect(new SubnetPool({ pool: '10.254.0.0/30' }).size).toBe(1);
    const pool = new SubnetPool({ pool: '10.254.0.0/28' });
    for (let i = 0; i < pool.size; i++) pool.allocate(`c${i}`, '');
    expect(() => pool.allocate('one-more', '')).toThrow(ResourceExhaustedError);
  });

  it('refuses a pool with no /30 in it', () => {
    expect(() => new SubnetPool({ pool: '10.0.0.0/31' })).toThrow(InvalidArgumentError);
  });

  describe('reserve', () => {
    it('takes an earlier allocation back, so allocate does not hand it out again', () => {
      const before = new SubnetPool();
      const a = before.allocate('a', '');
      const shared = before.allocate('s', '10.254.1.0/24');
      const after = new SubnetPool();
      after.reserve('a', a);
      after.reserve('s', shared);
      expect(after.allocate('b', '').subnet).toBe('10.254.0.4/30');
      expect(after.allocate('t', '10.254.1.0/24').containerIp).toBe('10.254.1.3');
      expect(after.allocation('a')).toEqual(a);
    });

    it('refuses an allocation that conflicts with what is held', () => {
      const pool = new SubnetPool();
      const a = pool.allocate('a', '');
      expect(() => pool.reserve('b', a)).toThrow(/already taken/);
    });
  });

  it('release of an unknown handle does nothing', () => {
    expect(() => new SubnetPool().release('nobody')).not.toThrow();
  });
});

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}
