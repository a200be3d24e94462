/** ROOT_PATH is the PATH a root process gets when neither the container nor the process sets one. */
export const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** USER_PATH is the default PATH for other users: no sbin directories. */
export const USER_PATH = '/usr/local/bin:/usr/bin:/bin';

/** mergeEnv overlays 'KEY=VALUE' lists in order: a later key replaces an earlier one in place. */
export function mergeEnv(...lists: ReadonlyArray<readonly string[]>): string[] {
  const merged = new Map<string, string>();
  for (const list of lists) {
    for (const entry of list) {
      const eq = entry.indexOf('=');
      const key = eq < 0 ? entry : entry.slice(0, eq);
      merged.set(key, entry);
    }
  }
  return [...merged.values()];
}

export interface ProcessUser {
  /** name is like 'root' or 'vcap'; for a bare uid without a passwd entry, the uid as text. */
  name: string;
  uid: number;
  home: string;
}

/**
 * processEnvironment is what a process sees: defaults (PATH for the user, USER, HOME),
 * then the container's env, then the process's own env, later entries winning.
 */
export function processEnvironment(containerEnv: readonly string[], processEnv: readonly string[], user: ProcessUser): string[] {
  const defaults = [`PATH=${user.uid === 0 ? ROOT_PATH : USER_PATH}`, `USER=${user.name}`, `HOME=${user.home}`];
  return mergeEnv(defaults, containerEnv, processEnv);
}
