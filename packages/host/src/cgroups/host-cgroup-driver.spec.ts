import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArborError } from '@arbor/core';
import { cgroupParentFor, hostCgroupDriver } from './host-cgroup-driver';

describe('cgroupParentFor', () => {
  it('keeps the plain parent for the default state dir and gives any other its own', () => {
    expect(cgroupParentFor('arbor', '/var/lib/arbor')).toBe('arbor');
    expect(cgroupParentFor('arbor', '/var/lib/arbor/')).toBe('arbor');
    const other = cgroupParentFor('arbor', '/tmp/arbor-test-1');
    expect(other).toMatch(/^arbor-[0-9a-f]{12}$/);
    expect(cgroupParentFor('arbor', '/tmp/arbor-test-2')).not.toBe(other);
    expect(cgroupParentFor('arbor-runc', '/tmp/arbor-test-1')).toBe(other.replace('arbor-', 'arbor-runc-'));
  });

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

describe('hostCgroupDriver', () => {
  it('says, as failedPrecondition, why a host without cgroups cannot serve', async () => {
    const root = await mkdtemp(join(tmpdir(), 'arbor-no-cgroups-'));
    try {
      const err: unknown = (() => {
        try {
          hostCgroupDriver(root);
        } catch (e) {
          return e;
        }
      })();
      expect(ArborError.is(err) && err.kind).toBe('failedPrecondition');
      expect(String(err)).toContain(`neither cgroup v2 (${root}/cgroup.controllers) nor the v1 memory controller (${root}/memory) is mounted`);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
