import { eventually, waitFor } from './eventually';

describe('eventually', () => {
  it('returns the value of the first check that does not throw', async () => {
    let calls = 0;
    const value = await eventually(
      () => {
        calls += 1;
        if (calls < 3) throw new Error(`not yet (${calls})`);
        return calls;
      },
      1000,
      1,
    );
    expect(value).toBe(3);
  });

  it("throws the check's last failure once the time is up", async () => {
    let calls = 0;
    await expect(
      eventually(
        () => {
          calls += 1;
          throw new Error(`still failing (${calls})`);
        },
        20,
        5,
      ),
    ).rejects.toThrow(new RegExp(`still failing \\(${'\\d+'}\\)`));
    expect(calls).toBeGreaterThan(1);
  });
});

describe('waitFor', () => {
  it('returns the first value that is not undefined, and names what it waited for when none comes', async () => {
    let calls = 0;
    await expect(waitFor('the third call', () => (++calls === 3 ? 'three' : undefined), 1000, 1)).resolves.toBe('three');
    await expect(waitFor('a pid', () => undefined, 20, 5)).rejects.toThrow('timed out waiting for a pid');
  });
});
