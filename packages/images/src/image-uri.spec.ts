import { InvalidArgumentError } from '@arbor/core';
import { parseImageUri } from './image-uri';

describe('parseImageUri', () => {
  it.each([
    ['raw:///var/lib/rootfs', { kind: 'raw', path: '/var/lib/rootfs' }],
    ['raw:///var/lib/rootfs/', { kind: 'raw', path: '/var/lib/rootfs' }],
    ['raw:///srv/my%20root', { kind: 'raw', path: '/srv/my root' }],
    ['oci:///srv/layout#v1', { kind: 'oci', layoutPath: '/srv/layout', tag: 'v1' }],
    ['oci:///srv/layout', { kind: 'oci', layoutPath: '/srv/layout', tag: '' }],
    ['docker-archive:///tmp/app.tar', { kind: 'docker-archive', path: '/tmp/app.tar', tag: '' }],
    ['docker-archive:///tmp/app.tar#app:v1', { kind: 'docker-archive', path: '/tmp/app.tar', tag: 'app:v1' }],
    ['docker-daemon:busybox:1.36', { kind: 'docker-daemon', name: 'busybox:1.36' }],
    ['docker-daemon:arbor-test/app', { kind: 'docker-daemon', name: 'arbor-test/app:latest' }],
    ['docker-daemon:localhost:5000/app', { kind: 'docker-daemon', name: 'localhost:5000/app:latest' }],
    ['docker://127.0.0.1:5000/arbor/app#v2', { kind: 'registry', host: '127.0.0.1:5000', repository: 'arbor/app', reference: 'v2', insecure: true }],
    ['docker://localhost:5000/app', { kind: 'registry', host: 'localhost:5000', repository: 'app', reference: 'latest', insecure: true }],
    [
      'docker://registry.example.com/team/app#1.0',
      { kind: 'registry', host: 'registry.example.com', repository: 'team/app', reference: '1.0', insecure: false },
    ],
    ['docker:///busybox#1.36', { kind: 'registry', host: 'registry-1.docker.io', repository: 'library/busybox', reference: '1.36', insecure: false }],
    [
      `docker:///team/app#sha256:${'a'.repeat(64)}`,
      { kind: 'registry', host: 'registry-1.docker.io', repository: 'team/app', reference: `sha256:${'a'.repeat(64)}`, insecure: false },
    ],
  ])('parses %s', (uri, expected) => {
    expect(parseImageUri(uri)).toEqual(expected);
  });

  it.each([
    ['', /has no scheme/],
    ['/var/lib/rootfs', /has no scheme/],
    ['ftp://host/x', /unknown scheme 'ftp'/],
    ['raw://relative/dir', /absolute path/],
    ['raw:///a/../etc', /'\.\.'/],
    ['raw:/dir', /needs '\/\/'/],
    ['raw:///dir#frag', /no #fragment/],
    ['oci://layout#v1', /absolute path/],
    ['docker-archive:///', /names no file/],
    ['docker-daemon:', /names no image/],
    ['docker-daemon:bad name', /invalid image name/],
    ['docker://127.0.0.1:5000', /names no repository/],
    ['docker://127.0.0.1:5000/', /names no repository/],
    ['docker://127.0.0.1:99999/app', /invalid port/],
    ['docker://bad_host!/app', /invalid registry host/],
    ['docker://127.0.0.1:5000/Upper/Case', /invalid repository name/],
    ['docker://127.0.0.1:5000/app#bad tag', /invalid tag or digest/],
    ['docker:/app', /needs '\/\/'/],
  ])('refuses %j', (uri, message) => {
    let caught: unknown;
    try {
      parseImageUri(uri);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidArgumentError);
    expect((caught as InvalidArgumentError).field).toBe('image.uri');
    expect((caught as Error).message).toMatch(message);
  });
});
