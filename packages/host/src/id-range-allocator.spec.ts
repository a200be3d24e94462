import { ArborError } from '@arbor/core';
import { IdRangeAllocator, checkSubordinateIds } from './id-range-allocator';

const pool = { base: 1_000_000_000, size: 3 * 65536 + 100, perContainer: 65536 };

describe('IdRangeAllocator', () => {
  test('containers get disjoint ranges of perContainer ids, lowest first, the same one when asked again', () => {
    const ids = new IdRangeAllocator(pool);
    expect(ids.allocate('a')).toEqual({ hostId: 1_000_000_000, size: 65536 });
    expect(ids.allocate('b')).toEqual({ hostId: 1_000_065_536, size: 65536 });
    expect(ids.allocate('a')).toEqual({ hostId: 1_000_000_000, size: 65536 });
    expect(ids.held('b')).toEqual({ hostId: 1_000_065_536, size: 65536 });
  });

  test('a full pool is resourceExhausted; a released range is handed out again', () => {
    const ids = new IdRangeAllocator(pool);
    for (const h of ['a', 'b', 'c']) ids.allocate(h);
    // the 100 ids left over make no fourth range
    expect(() => ids.allocate('d')).toThrow(expect.objectContaining({ kind: 'resourceExhausted' }));
    ids.release('b');
    ids.release('b');
    expect(ids.held('b')).toBeUndefined();
    expect(ids.allocate('d')).toEqual({ hostId: 1_000_065_536, size: 65536 });
  });

  test('claim restores a recorded range, which allocate then skips', () => {
    const ids = new IdRangeAllocator(pool);
    ids.claim('old', { hostId: 1_000_000_000, size: 65536 });
    expect(ids.allocate('new')).toEqual({ hostId: 1_000_065_536, size: 65536 });
  });

  test.each([
    ['off the slots', { hostId: 1_000_000_001, size: 65536 }],
    ['of another size', { hostId: 1_000_000_000, size: 1000 }],
    ['below the pool', { hostId: 65536, size: 65536 }],
    ['past the pool', { hostId: 1_000_196_608, size: 65536 }],
  ])('claim refuses a range %s', (_what, range) => {
    expect(() => new IdRangeAllocator(pool).claim('x', range)).toThrow(/not a range of the pool/);
  });

  test('claim refuses a range another container holds', () => {
    const ids = new IdRangeAllocator(pool);
    ids.allocate('a');
    let error: unknown;
    try {
      ids.claim('b', { hostId: 1_000_000_000, size: 65536 });
    } catch (err) {
      error = err;
    }
    expect(ArborError.is(error) && error.message).toBe('userns: containers a and b both hold ids from 1000000000');
  });
});

describe('checkSubordinateIds', () => {
  const debian = { path: '/etc/subuid', text: 'alice:100000:65536\n# comment\nbob:165536:65536\n' };

  test("a pool above the users' ranges passes", () => {
    expect(() => checkSubordinateIds(pool, [debian, { path: '/etc/subgid', text: '' }])).not.toThrow();
  });

  test('a pool overlapping a user range is failedPrecondition naming the line', () => {
    expect(() => checkSubordinateIds({ base: 200_000, size: 65536, perContainer: 65536 }, [debian])).toThrow(
      expect.objectContaining({ kind: 'failedPrecondition', message: expect.stringContaining("/etc/subuid's 'bob:165536:65536'") }),
    );
    // touching ends do not overlap
    expect(() => checkSubordinateIds({ base: 231_072, size: 65536, perContainer: 65536 }, [debian])).not.toThrow();
  });
});
