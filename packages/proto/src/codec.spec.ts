import { InvalidArgumentError } from '@arbor/core';
import type { ImagePullProgress, PulledImageInfo } from '@arbor/core';
import { containerSpecFromProto, containerSpecToProto, imageRefFromProto, imageRefToProto, pullProgressFromProto, pullProgressToProto } from './codec';
import { ContainerSpec, PullImageProgress, PullPhase } from './gen/arbor/v1/arbor';

const IMAGE: PulledImageInfo = {
  id: `sha256:${'c'.repeat(64)}`,
  layers: 2,
  env: ['A=1'],
  user: '1000:1000',
  workingDir: '/app',
  entrypoint: ['/bin/app'],
  cmd: ['--serve'],
};
const LAYER = `sha256:${'a'.repeat(64)}`;

describe('pull progress codec', () => {
  it.each<ImagePullProgress>([
    { phase: 'resolving', layer: '', bytesDone: 0, bytesTotal: 0 },
    { phase: 'waiting', layer: LAYER, bytesDone: 0, bytesTotal: -1 },
    { phase: 'exists', layer: LAYER, bytesDone: 10, bytesTotal: 10 },
    { phase: 'downloading', layer: LAYER, bytesDone: 5 * 2 ** 40, bytesTotal: 6 * 2 ** 40 },
    { phase: 'unpacked', layer: LAYER, bytesDone: 10, bytesTotal: 10 },
    { phase: 'committing', layer: '', bytesDone: 0, bytesTotal: 0 },
    { phase: 'done', layer: '', bytesDone: 0, bytesTotal: 0, image: IMAGE },
  ])("round-trips '$phase' through the wire bytes", (progress) => {
    const wire = PullImageProgress.decode(PullImageProgress.encode(pullProgressToProto(progress)).finish());
    expect(pullProgressFromProto(wire)).toEqual(progress);
  });

  it("rejects an unknown phase and a 'done' without its image", () => {
    expect(() => pullProgressFromProto({ phase: 99 as PullPhase, layer: '', bytesDone: 0, bytesTotal: 0, image: undefined })).toThrow(InvalidArgumentError);
    expect(() => pullProgressFromProto({ phase: PullPhase.PULL_PHASE_DONE, layer: '', bytesDone: 0, bytesTotal: 0, image: undefined })).toThrow(
      InvalidArgumentError,
    );
  });

  it('reads an absent image as the default and empty credentials as none', () => {
    expect(imageRefFromProto(undefined)).toEqual({ uri: '' });
    expect(imageRefFromProto(imageRefToProto({ uri: 'docker:///busybox' }))).toEqual({ uri: 'docker:///busybox' });
    expect(imageRefFromProto(imageRefToProto({ uri: 'docker:///busybox', username: 'u', password: 'p' }))).toEqual({
      uri: 'docker:///busybox',
      username: 'u',
      password: 'p',
    });
  });
});

describe('bind mount codec', () => {
  it('round-trips idmap through the wire bytes, and leaves it out where it is false', () => {
    const bindMounts = [
      { srcPath: '/srv/data', dstPath: '/data', mode: 'rw' as const, origin: 'host' as const, idmap: true },
      { srcPath: '/srv/conf', dstPath: '/conf', mode: 'ro' as const, origin: 'host' as const },
    ];
    const wire = ContainerSpec.decode(ContainerSpec.encode(containerSpecToProto({ bindMounts })).finish());
    expect(wire.bindMounts.map((m) => m.idmap)).toEqual([true, false]);
    expect(containerSpecFromProto(wire).bindMounts).toEqual(bindMounts);
  });
});
