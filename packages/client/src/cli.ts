#!/usr/bin/env node
// cli.ts is the `arbor` executable. It runs cli-bundle.js (cli-run.ts and all it imports,
// bundled by bundle-cli.mjs) compiled with V8's code cache, kept per user: start-up is most
// of a short command's time (issue #15), and Node 20 has no compile cache of its own
// (module.enableCompileCache is Node 22). Without the bundle (a tsc-only build) it runs
// cli-run.js as it is.
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { createRequire, wrap } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

const BUNDLE = join(__dirname, 'cli-bundle.js');

/**
 * CacheFiles are where the code cache of the bundle is kept, per node and per build of the
 * bundle, like ~/.cache/arbor/cli-v20.20.2-x64-797847-1764766800000.v8 (local: written by
 * a command that did not talk to arbord, like --help) and ...-client.v8 (written by one that
 * did, so it holds grpc-js's functions too). A code cache holds the functions its run
 * compiled: one made by --help would leave every later ping compiling grpc-js.
 */
interface CacheFiles {
  local: string;
  client: string;
}

/** cacheFilesOf is undefined with neither XDG_CACHE_HOME nor HOME. */
function cacheFilesOf(bundle: Stats): CacheFiles | undefined {
  const home = process.env['HOME'];
  const base = process.env['XDG_CACHE_HOME'] || (home ? join(home, '.cache') : undefined);
  if (!base) return undefined;
  const prefix = join(base, 'arbor', `cli-${process.version}-${process.arch}-${bundle.size}-${Math.trunc(bundle.mtimeMs)}`);
  return { local: `${prefix}.v8`, client: `${prefix}-client.v8` };
}

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * saveCache writes data to file atomically (a reader never sees half of it), or not at all,
 * and removes this node's caches of earlier builds of the bundle (files stays).
 */
function saveCache(file: string, data: Buffer, files: CacheFiles): void {
  const dir = dirname(file);
  const temp = `${file}.${process.pid}`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(temp, data, { mode: 0o600 });
    renameSync(temp, file);
    const thisNode = `cli-${process.version}-${process.arch}-`;
    const current = [basename(files.local), basename(files.client)];
    for (const name of readdirSync(dir)) {
      if (name.startsWith(thisNode) && name.endsWith('.v8') && !current.includes(name)) rmSync(join(dir, name), { force: true });
    }
  } catch {
    // the cache only saves time: without it the next start compiles the bundle again
  }
}

const bundle = statSync(BUNDLE, { throwIfNoEntry: false });
if (!bundle) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('./cli-run');
} else {
  const files = cacheFilesOf(bundle);
  const clientCache = files && readCache(files.client);
  const cachedData = clientCache ?? (files && readCache(files.local));
  const script = new Script(wrap(readFileSync(BUNDLE, 'utf8')), { filename: BUNDLE, ...(cachedData && { cachedData }) });
  const bundleModule: { exports: { usedGrpcClient?: () => boolean } } = { exports: {} };
  if (files) {
    // written at exit, so that it holds every function this command compiled, not only the
    // top level: the next start of a similar command compiles next to nothing
    process.once('exit', () => {
      const usedClient = bundleModule.exports.usedGrpcClient?.() === true;
      const stale = !cachedData || script.cachedDataRejected === true;
      if (stale || (usedClient && !clientCache)) saveCache(usedClient ? files.client : files.local, script.createCachedData(), files);
    });
  }
  const run = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
  run.call(bundleModule.exports, bundleModule.exports, createRequire(BUNDLE), bundleModule, BUNDLE, __dirname);
}
