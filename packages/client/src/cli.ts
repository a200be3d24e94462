#!/usr/bin/env node
// cli.ts is the `arbor` executable. It runs cli-bundle.js (cli-run.ts and all it imports,
// bundled by bundle-cli.mjs) compiled with V8's code cache, kept per user: start-up is most
// of a short command's time (issue #15), and Node 20 has no compile cache of its own
// (module.enableCompileCache is Node 22). Without the bundle (a tsc-only build) it runs
// cli-run.js as it is.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { createRequire, wrap } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

const BUNDLE = join(__dirname, 'cli-bundle.js');

/**
 * cacheFileOf is where the code cache of bundle is kept, like
 * ~/.cache/arbor/cli-v20.20.2-x64-1047417-1764766800000.v8: one file per node and per
 * build of the bundle; undefined with neither XDG_CACHE_HOME nor HOME.
 */
function cacheFileOf(bundle: Stats): string | undefined {
  const home = process.env['HOME'];
  const base = process.env['XDG_CACHE_HOME'] || (home ? join(home, '.cache') : undefined);
  if (!base) return undefined;
  return join(base, 'arbor', `cli-${process.version}-${process.arch}-${bundle.size}-${Math.trunc(bundle.mtimeMs)}.v8`);
}

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** saveCache writes data to file atomically (a reader never sees half of it), or not at all. */
function saveCache(file: string, data: Buffer): void {
  const temp = `${file}.${process.pid}`;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(temp, data, { mode: 0o600 });
    renameSync(temp, file);
  } catch {
    // the cache only saves time: without it the next start compiles the bundle again
  }
}

const bundle = statSync(BUNDLE, { throwIfNoEntry: false });
if (!bundle) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('./cli-run');
} else {
  const cacheFile = cacheFileOf(bundle);
  const cachedData = cacheFile ? readCache(cacheFile) : undefined;
  const script = new Script(wrap(readFileSync(BUNDLE, 'utf8')), { filename: BUNDLE, ...(cachedData && { cachedData }) });
  if (cacheFile && (!cachedData || script.cachedDataRejected)) {
    // written at exit, so that it holds every function this command compiled, not only the
    // top level: the next start of a similar command compiles next to nothing
    process.once('exit', () => saveCache(cacheFile, script.createCachedData()));
  }
  const bundleModule = { exports: {} };
  const run = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
  run.call(bundleModule.exports, bundleModule.exports, createRequire(BUNDLE), bundleModule, BUNDLE, __dirname);
}
