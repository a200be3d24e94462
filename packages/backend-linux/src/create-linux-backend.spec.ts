import { cgroupParentFor } from './create-linux-backend';

describe('cgroupParentFor with a tag', () => {
  it("keeps 'arbor' for the default tag and state dir, so existing hosts find their containers", () => {
    expect(cgroupParentFor('arbor', '/var/lib/arbor')).toBe('arbor');
    expect(cgroupParentFor('arbor', '/var/lib/arbor', '')).toBe('arbor');
  });

  it('puts the tag after the base, so two arbords with different tags never share a parent', () => {
    expect(cgroupParentFor('arbor', '/var/lib/arbor', 'x')).toBe('arbor-x');
    expect(cgroupParentFor('arbor-runc', '/var/lib/arbor', 'x')).toBe('arbor-runc-x');
    const tagged = cgroupParentFor('arbor', '/tmp/arbor-state', 'x');
    expect(tagged).toMatch(/^arbor-x-[0-9a-f]{12}$/);
    expect(tagged).not.toBe(cgroupParentFor('arbor', '/tmp/arbor-state', 'y'));
    expect(tagged).not.toBe(cgroupParentFor('arbor', '/tmp/arbor-state'));
  });
});
