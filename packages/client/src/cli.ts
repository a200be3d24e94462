#!/usr/bin/env node
// cli.ts is the `arbor` executable. It runs cli-bundle.js (cli-run.ts and all it imports,
// bundled by bundle-cli.mjs) and, when a command asks for the gRPC client, client-bundle.js,
// each compiled with V8's code cache, kept per user: start-up is most of a short command's
// time (issue #15), and Node 20 has no compile cache of its own (module.enableCompileCache is
// Node 22). Without the bundles (a tsc-only build) it runs cli-run.js as it is.
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, wrap } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

const CLI_BUNDLE = join(__dirname, 'cli-bundle.js');

/** CLIENT_BUNDLE is what cli-bundle.js's require('./client-bundle.js') gets: grpc-js and the client. */
const CLIENT_BUNDLE = join(__dirname, 'client-bundle.js');

/**
 * cacheDir is where code caches are kept, like ~/.cache/arbor; undefined with neither
 * XDG_CACHE_HOME nor HOME.
 */
function cacheDir(): string | undefined {
  const home = process.env['HOME'];
  const base = process.env['XDG_CACHE_HOME'] || (home ? join(home, '.cache') : undefined);
  return base ? join(base, 'arbor') : undefined;
}

/**
 * CachedBundle is one bundle's code cache. Its files are per node and per build of the
 * bundle, like cli-v20.20.2-x64-156150-1764766800000-local.v8: a code cache holds the
 * functions its run compiled, so cli-bundle.js keeps one written by a command that talked to
 * arbord (-client) apart from one written by one that did not (-local, like --help), and a
 * start uses the one its command is likely to need. client-bundle.js has one.
 */
interface CachedBundle {
  /** prefix names every cache file of this bundle and node, like ~/.cache/arbor/cli-v20.20.2-x64- */
  prefix: string;
  /** stamp is the build of the bundle, like 156150-1764766800000 (size and mtime) */
  stamp: string;
}

function cacheFile(bundle: CachedBundle, flavor: string): string {
  return `${bundle.prefix}${bundle.stamp}${flavor}.v8`;
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
 * and removes this node's caches of earlier builds of the bundle.
 */
function saveCache(bundle: CachedBundle, file: string, data: Buffer): void {
  const dir = dirname(file);
  const temp = `${file}.${process.pid}`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(temp, data, { mode: 0o600 });
    renameSync(temp, file);
    const thisNode = basename(bundle.prefix);
    const build = `${thisNode}${bundle.stamp}`;
    for (const name of readdirSync(dir)) {
      if (name.startsWith(thisNode) && name.endsWith('.v8') && !name.startsWith(build)) rmSync(join(dir, name), { force: true });
    }
  } catch {
    // the cache only saves time: without it the next start compiles the bundle again
  }
}

/** BundleRequire is the require a bundle runs with. */
type BundleRequire = (id: string) => unknown;

/**
 * runBundle compiles file with the cache of the first of flavors that has one, runs it as a
 * CommonJS module and returns its exports. At exit it writes the cache of the flavor that
 * flavorAtExit names if that one was missing, or was given and rejected by V8.
 */
function runBundle(file: string, name: string, flavors: string[], flavorAtExit: () => string, require: BundleRequire): unknown {
  const stats = statSync(file);
  const dir = cacheDir();
  const bundle: CachedBundle | undefined =
    dir === undefined
      ? undefined
      : {
          prefix: join(dir, `${name}-${process.version}-${process.arch}-`),
          stamp: `${stats.size}-${Math.trunc(stats.mtimeMs)}`,
        };
  const caches = new Map(bundle ? flavors.map((flavor) => [flavor, readCache(cacheFile(bundle, flavor))]) : []);
  const used = flavors.find((flavor) => caches.get(flavor));
  const cachedData = used === undefined ? undefined : caches.get(used);
  const script = new Script(wrap(readFileSync(file, 'utf8')), { filename: file, ...(cachedData && { cachedData }) });
  if (bundle) {
    // written at exit, so that it holds every function this command compiled, not only the
    // top level: the next start of a similar command compiles next to nothing
    process.once('exit', () => {
      const flavor = flavorAtExit();
      if (!caches.get(flavor) || (used === flavor && script.cachedDataRejected === true)) {
        saveCache(bundle, cacheFile(bundle, flavor), script.createCachedData());
      }
    });
  }
  const module = { exports: {} };
  const run = script.runInThisContext() as (exports: object, require: BundleRequire, module: object, filename: string, dirname: string) => void;
  run.call(module.exports, module.exports, require, module, file, dirname(file));
  return module.exports;
}

/**
 * talksToArbord guesses from the arguments whether the command will load the client, to
 * pick cli-bundle.js's cache; a wrong guess costs time, not correctness.
 */
function talksToArbord(args: string[]): boolean {
  const local = new Set(['-h', '--help', 'help', 'completion']);
  return args.length > 0 && !args.some((arg) => local.has(arg));
}

const cliBundle = statSync(CLI_BUNDLE, { throwIfNoEntry: false });
if (!cliBundle) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('./cli-run');
} else {
  const nodeRequire = createRequire(CLI_BUNDLE);
  let client: unknown;
  const cliRequire: BundleRequire = (id) => {
    if (id !== './client-bundle.js') return nodeRequire(id);
    client ??= runBundle(CLIENT_BUNDLE, 'client', [''], () => '', nodeRequire);
    return client;
  };
  const flavors = talksToArbord(process.argv.slice(2)) ? ['-client', '-local'] : ['-local', '-client'];
  runBundle(CLI_BUNDLE, 'cli', flavors, () => (client === undefined ? '-local' : '-client'), cliRequire);
}
