import { hasRunc } from './describe-if';

/** HOST_BACKENDS are the real backends this host can run: linux, and runc where runc is installed. */
export const HOST_BACKENDS: readonly string[] = ['linux', ...(hasRunc() ? ['runc'] : [])];
