import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * ROOT_PACKAGE_JSON is the repository's package.json, like /opt/arbor/package.json: its
 * "version" is the one version of arbord and the arbor CLI, which ship together. The path is
 * the same from src/ (tests) and dist/ (built).
 */
const ROOT_PACKAGE_JSON = path.resolve(__dirname, '../../../package.json');

let cached: string | undefined;

/**
 * arborVersion is Arbor's version, like '0.1.0', read once from the root package.json;
 * 'unknown' when that file is missing or names none (a copy of one package on its own).
 */
export function arborVersion(): string {
  if (cached === undefined) {
    try {
      const { version } = JSON.parse(readFileSync(ROOT_PACKAGE_JSON, 'utf8')) as { version?: unknown };
      cached = typeof version === 'string' && version !== '' ? version : 'unknown';
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
