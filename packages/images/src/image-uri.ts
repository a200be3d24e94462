import { InvalidArgumentError } from '@arbor/core';
import { posix } from 'node:path';

/** DEFAULT_REGISTRY_HOST serves `docker:///repo#tag`, as Docker Hub does for `docker pull repo:tag`. */
export const DEFAULT_REGISTRY_HOST = 'registry-1.docker.io';

/**
 * ImageUri is an image URI taken apart. Examples:
 *   raw:///var/lib/rootfs                    -> { kind: 'raw', path: '/var/lib/rootfs' }
 *   oci:///srv/layout#v1                     -> { kind: 'oci', layoutPath: '/srv/layout', tag: 'v1' }
 *   docker-archive:///tmp/busybox.tar        -> { kind: 'docker-archive', path: '/tmp/busybox.tar', tag: '' }
 *   docker-daemon:busybox:1.36               -> { kind: 'docker-daemon', name: 'busybox:1.36' }
 *   docker://127.0.0.1:5000/arbor/app#v2     -> { kind: 'registry', host: '127.0.0.1:5000', repository: 'arbor/app', reference: 'v2', insecure: true }
 */
export type ImageUri =
  | { kind: 'raw'; path: string }
  | { kind: 'oci'; layoutPath: string; tag: string }
  | { kind: 'docker-archive'; path: string; tag: string }
  | { kind: 'docker-daemon'; name: string }
  | { kind: 'registry'; host: string; repository: string; reference: string; insecure: boolean };

const FIELD = 'image.uri';

// Repository components as the distribution spec allows them, like 'library/busybox'.
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::[0-9]{1,5})?$/;

function invalid(uri: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(FIELD, `'${uri}' ${why}`);
}

/** absolutePath checks that a URI path names an absolute, normalized path without '..'. */
function absolutePath(uri: string, path: string, example: string): string {
  if (!path.startsWith('/')) {
    throw invalid(uri, `needs an absolute path, like '${example}'`);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw invalid(uri, 'has a malformed %-escape in its path');
  }
  if (decoded.includes('\0')) throw invalid(uri, 'has a NUL byte in its path');
  if (decoded.split('/').includes('..')) throw invalid(uri, "may not contain '..' in its path");
  const normal = posix.normalize(decoded);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

function splitFragment(rest: string): [string, string] {
  const hash = rest.indexOf('#');
  return hash < 0 ? [rest, ''] : [rest.slice(0, hash), rest.slice(hash + 1)];
}

function isLoopback(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:[0-9]+$/, '');
  return name === 'localhost' || name === '[::1]' || /^127\.[0-9]+\.[0-9]+\.[0-9]+$/.test(name);
}

function parseRegistry(uri: string, rest: string): ImageUri {
  // rest is like '//127.0.0.1:5000/arbor/app#v2' or '///busybox#1.36'
  if (!rest.startsWith('//')) {
    throw invalid(uri, "needs '//' after 'docker:', like 'docker://127.0.0.1:5000/repo#tag' or 'docker:///repo#tag'");
  }
  const [location, fragment] = splitFragment(rest.slice(2));
  const slash = location.indexOf('/');
  if (slash < 0) throw invalid(uri, "names no repository, like 'docker://127.0.0.1:5000/repo#tag'");
  let host = location.slice(0, slash);
  let repository = location.slice(slash + 1);
  if (host === '') {
    host = DEFAULT_REGISTRY_HOST;
    if (repository !== '' && !repository.includes('/')) repository = `library/${repository}`;
  } else if (!HOST.test(host)) {
    throw invalid(uri, `has an invalid registry host '${host}'`);
  } else {
    const port = /:([0-9]+)$/.exec(host)?.[1];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
      throw invalid(uri, `has an invalid port ${port}`);
    }
  }
  if (repository === '') throw invalid(uri, 'names no repository');
  if (!REPOSITORY.test(repository)) {
    throw invalid(uri, `has an invalid repository name '${repository}' (lower-case letters, digits, '.', '_', '-', '/')`);
  }
  const reference = fragment === '' ? 'latest' : fragment;
  if (!TAG.test(reference) && !DIGEST.test(reference)) {
    throw invalid(uri, `has an invalid tag or digest '${reference}' (a tag like 'v1.2' or 'sha256:<64 hex>')`);
  }
  return { kind: 'registry', host, repository, reference, insecure: isLoopback(host) };
}

/**
 * parseImageUri takes an image URI apart without touching the disk or the network.
 * @throws InvalidArgumentError('image.uri') naming what is wrong with the URI.
 */
export function parseImageUri(uri: string): ImageUri {
  const colon = uri.indexOf(':');
  if (colon <= 0) {
    throw invalid(uri, 'has no scheme: use raw://, oci://, docker-archive://, docker-daemon: or docker://');
  }
  const scheme = uri.slice(0, colon);
  const rest = uri.slice(colon + 1);
  switch (scheme) {
    case 'raw': {
      if (!rest.startsWith('//')) throw invalid(uri, "needs '//' after 'raw:', like 'raw:///var/lib/rootfs'");
      const [path, fragment] = splitFragment(rest.slice(2));
      if (fragment !== '') throw invalid(uri, 'takes no #fragment');
      return { kind: 'raw', path: absolutePath(uri, path, 'raw:///var/lib/rootfs') };
    }
    case 'oci': {
      if (!rest.startsWith('//')) throw invalid(uri, "needs '//' after 'oci:', like 'oci:///srv/layout#tag'");
      const [path, tag] = splitFragment(rest.slice(2));
      if (tag !== '' && !/^[A-Za-z0-9_.:/@-]{1,255}$/.test(tag)) throw invalid(uri, `has an invalid tag '${tag}'`);
      return { kind: 'oci', layoutPath: absolutePath(uri, path, 'oci:///srv/layout#tag'), tag };
    }
    case 'docker-archive': {
      if (!rest.startsWith('//')) {
        throw invalid(uri, "needs '//' after 'docker-archive:', like 'docker-archive:///tmp/image.tar'");
      }
      const [path, tag] = splitFragment(rest.slice(2));
      if (tag !== '' && !/^[A-Za-z0-9_.:/@-]{1,255}$/.test(tag)) throw invalid(uri, `has an invalid tag '${tag}'`);
      const file = absolutePath(uri, path, 'docker-archive:///tmp/image.tar');
      if (file === '/') throw invalid(uri, 'names no file');
      return { kind: 'docker-archive', path: file, tag };
    }
    case 'docker-daemon': {
      const name = rest.startsWith('//') ? rest.slice(2) : rest;
      if (name === '') throw invalid(uri, "names no image, like 'docker-daemon:busybox:latest'");
      if (!/^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,254}$/.test(name)) throw invalid(uri, `has an invalid image name '${name}'`);
      const last = name.slice(name.lastIndexOf('/') + 1);
      return { kind: 'docker-daemon', name: last.includes(':') || name.includes('@') ? name : `${name}:latest` };
    }
    case 'docker':
      return parseRegistry(uri, rest);
    default:
      throw invalid(uri, `has an unknown scheme '${scheme}': use raw, oci, docker-archive, docker-daemon or docker`);
  }
}
