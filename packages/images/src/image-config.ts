import { ArborError, type Rootfs } from '@arbor/core';
import { isSha256Digest } from './digest';

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

function strings(value: unknown, what: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new ArborError('invalidArgument', `image: config ${what} is not a list of strings`);
  }
  return value;
}

function text(value: unknown, what: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new ArborError('invalidArgument', `image: config ${what} is not a string`);
  return value;
}

/**
 * parseImageConfig reads an image config blob and checks what we rely on.
 * @throws ArborError('invalidArgument') when it is not JSON or its fields have the wrong shape.
 */
export function parseImageConfig(bytes: Buffer): ImageConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ArborError('invalidArgument', 'image: config is not JSON', { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null) throw new ArborError('invalidArgument', 'image: config is not an object');
  const config = parsed as ImageConfig;
  const diffIds = config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || !diffIds.every(isSha256Digest)) {
    throw new ArborError('invalidArgument', 'image: config rootfs.diff_ids is missing or holds non-sha256 digests');
  }
  imageDefaults(config);
  return config;
}

/** imageDefaults turns the config's Env, User, WorkingDir, Entrypoint and Cmd into Rootfs fields. */
export function imageDefaults(config: Pick<ImageConfig, 'config'>): ImageDefaults {
  const c = config.config ?? {};
  return {
    env: strings(c.Env, 'Env'),
    user: text(c.User, 'User'),
    workingDir: text(c.WorkingDir, 'WorkingDir'),
    entrypoint: strings(c.Entrypoint, 'Entrypoint'),
    cmd: strings(c.Cmd, 'Cmd'),
  };
}
