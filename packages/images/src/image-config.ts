import { ArborError, validateImageConfig, type Rootfs } from '@arbor/core';
import { isSha256Digest } from './digest';

/** MAX_CONFIG_BYTES bounds an image config read into memory: real ones are a few KiB, big histories well under 1 MiB. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** ImageConfig is the part of an OCI/Docker image config we use. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  config?: {
    Env?: string[] | null;
    User?: string;
    WorkingDir?: string;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
  } | null;
  rootfs: { type: string; diff_ids: string[] };
}

/** ImageDefaults are the Rootfs fields an image brings: everything but the path. */
export type ImageDefaults = Omit<Rootfs, 'path'>;

function strings(value: unknown, what: string, image: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new ArborError('invalidArgument', `image: ${image}: config ${what} is not a list of strings`);
  }
  return value;
}

function text(value: unknown, what: string, image: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new ArborError('invalidArgument', `image: ${image}: config ${what} is not a string`);
  return value;
}

/**
 * parseImageConfig reads an image config blob and checks what we rely on; image is its URI,
 * like 'oci:///srv/layout#v1', for messages.
 * @throws ArborError('invalidArgument') when it is too big, not JSON, or its fields have the
 * wrong shape or hostile values (see imageDefaults).
 */
export function parseImageConfig(bytes: Buffer, image: string): ImageConfig {
  if (bytes.length > MAX_CONFIG_BYTES) {
    throw new ArborError('invalidArgument', `image: ${image}: config is larger than ${MAX_CONFIG_BYTES} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ArborError('invalidArgument', `image: ${image}: config is not JSON`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null) throw new ArborError('invalidArgument', `image: ${image}: config is not an object`);
  const config = parsed as ImageConfig;
  const diffIds = config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || !diffIds.every(isSha256Digest)) {
    throw new ArborError('invalidArgument', `image: ${image}: config rootfs.diff_ids is missing or holds non-sha256 digests`);
  }
  imageDefaults(config, image);
  return config;
}

/**
 * imageDefaults turns the config's Env, User, WorkingDir, Entrypoint and Cmd into Rootfs
 * fields, checked as API input is: image content is hostile, and these reach the helpers
 * that start processes. It is the only way from a config to ImageDefaults, so no source
 * can hand out unchecked ones; image is the URI, for messages.
 * @throws InvalidArgumentError naming the image and field, like
 *   "image: \"oci:///srv/layout#v1\" config Env[0]: ... contains a NUL character"
 */
export function imageDefaults(config: Pick<ImageConfig, 'config'>, image: string): ImageDefaults {
  const c = config.config ?? {};
  const defaults: ImageDefaults = {
    env: strings(c.Env, 'Env', image),
    user: text(c.User, 'User', image),
    workingDir: text(c.WorkingDir, 'WorkingDir', image),
    entrypoint: strings(c.Entrypoint, 'Entrypoint', image),
    cmd: strings(c.Cmd, 'Cmd', image),
  };
  validateImageConfig(defaults, image);
  return defaults;
}
