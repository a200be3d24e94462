import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** DEFAULT_HELPERS_DIR is native/build of this repo, where `make -C native` puts the helpers. */
export const DEFAULT_HELPERS_DIR = resolve(__dirname, '..', '..', '..', 'native', 'build');

/**
 * helperEnvVariable names the variable that points at helper name elsewhere, like
 * ARBOR_NET_HELPER for 'arbor-net' and ARBOR_MOUNT_HELPER for 'arbor-mount'.
 */
export function helperEnvVariable(name: string): string {
  return `ARBOR_${name
    .replace(/^arbor-/, '')
    .replace(/-/g, '_')
    .toUpperCase()}_HELPER`;
}

/**
 * helperPath is where the native/ helper name is: the path in its variable (see
 * helperEnvVariable) when set, else dir/name, like /work/main/native/build/arbor-mount.
 * A helper that native/Makefile builds in its own directory (arbor-net, in
 * native/arbor-net/arbor-net) is found there when dir (the default dir only) lacks it.
 * Either way the path may not exist: starting the helper says so.
 */
export function helperPath(name: string, dir: string = DEFAULT_HELPERS_DIR): string {
  const fromEnv = process.env[helperEnvVariable(name)];
  if (fromEnv) return fromEnv;
  const inDir = join(dir, name);
  if (dir !== DEFAULT_HELPERS_DIR || existsSync(inDir)) return inDir;
  const ownDir = join(DEFAULT_HELPERS_DIR, '..', name, name);
  return existsSync(ownDir) ? ownDir : inDir;
}
