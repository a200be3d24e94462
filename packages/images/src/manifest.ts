import { ArborError } from '@arbor/core';
import { isSha256Digest } from './digest';

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

/**
 * MAX_MANIFEST_BYTES bounds a manifest or index (or a docker-save manifest.json) read into
 * memory: the Distribution registry refuses manifests over 4 MiB too.
 */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** MANIFEST_ACCEPT is the Accept header for a registry manifest request: every form we read. */
export const MANIFEST_ACCEPT = Object.values(MEDIA_TYPES).join(', ');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

/** Platform selects one manifest of an index, like { os: 'linux', architecture: 'amd64' }. */
export interface Platform {
  os: string;
  architecture: string;
}

export type ParsedManifest = { kind: 'index'; manifests: Descriptor[] } | { kind: 'manifest'; config: Descriptor; layers: Descriptor[] };

/** hostPlatform is linux with Node's arch in OCI words, like { os: 'linux', architecture: 'amd64' }. */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

function descriptor(value: unknown, what: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (typeof d !== 'object' || d === null || !isSha256Digest(d.digest) || typeof d.size !== 'number' || d.size < 0) {
    throw new ArborError('invalidArgument', `image: ${what} is not a descriptor with a sha256 digest and a size`);
  }
  return { ...d, mediaType: typeof d.mediaType === 'string' ? d.mediaType : '', digest: d.digest, size: d.size };
}

/**
 * parseManifest reads a manifest or an index, Docker schema2 or OCI, telling them apart by
 * the media type in the body or, failing that, the Content-Type the registry sent.
 * @throws ArborError('invalidArgument') for schema1, unknown types or malformed bodies.
 */
export function parseManifest(bytes: Buffer, contentType = ''): ParsedManifest {
  if (bytes.length > MAX_MANIFEST_BYTES) throw new ArborError('invalidArgument', `image: manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ArborError('invalidArgument', 'image: manifest is not JSON', { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ArborError('invalidArgument', 'image: manifest is not a JSON object');
  const body = parsed as Record<string, unknown>;
  const mediaType = typeof body.mediaType === 'string' ? body.mediaType : (contentType.split(';')[0]?.trim() ?? '');
  if (body.schemaVersion === 1) {
    throw new ArborError('invalidArgument', 'image: Docker schema 1 manifests are not supported: push the image again with a newer Docker');
  }
  const isIndex = mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerManifestList || (mediaType === '' && Array.isArray(body.manifests));
  if (isIndex) {
    if (!Array.isArray(body.manifests)) throw new ArborError('invalidArgument', 'image: index has no manifests');
    return { kind: 'index', manifests: body.manifests.map((m, i) => descriptor(m, `index entry ${i}`)) };
  }
  const isManifest = mediaType === MEDIA_TYPES.ociManifest || mediaType === MEDIA_TYPES.dockerManifest || (mediaType === '' && body.config !== undefined);
  if (!isManifest) throw new ArborError('invalidArgument', `image: unsupported manifest media type '${mediaType}'`);
  if (!Array.isArray(body.layers)) throw new ArborError('invalidArgument', 'image: manifest has no layers');
  return {
    kind: 'manifest',
    config: descriptor(body.config, 'manifest config'),
    layers: body.layers.map((l, i) => descriptor(l, `manifest layer ${i}`)),
  };
}

/**
 * selectPlatform picks the index entry for platform.
 * @throws ArborError('notFound') naming the platforms the index has.
 */
export function selectPlatform(manifests: Descriptor[], platform: Platform, what: string): Descriptor {
  const match = manifests.find((m) => m.platform?.os === platform.os && m.platform.architecture === platform.architecture);
  if (match !== undefined) return match;
  const offered = manifests.map((m) => `${m.platform?.os ?? '?'}/${m.platform?.architecture ?? '?'}`).join(', ');
  throw new ArborError('notFound', `image: ${what} has no ${platform.os}/${platform.architecture} image (it has: ${offered || 'none'})`);
}

/** checkLayerMediaType refuses layers we cannot unpack, like zstd or foreign (non-distributable) ones. */
export function checkLayerMediaType(layer: Descriptor): void {
  const type = layer.mediaType;
  if (type.includes('zstd')) throw new ArborError('invalidArgument', `image: layer ${layer.digest} is zstd-compressed, which is not supported`);
  if (type.includes('foreign') || type.includes('nondistributable')) {
    throw new ArborError('invalidArgument', `image: layer ${layer.digest} is a foreign layer (${type}), which is not supported`);
  }
}
