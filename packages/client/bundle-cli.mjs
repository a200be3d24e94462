// bundle-cli writes dist/cli-bundle.js, the `arbor` CLI as one file, which dist/cli.js runs:
// esbuild bundles src/cli-run.ts with everything it imports, so a command's start-up reads
// one file instead of resolving and reading several hundred (grpc-js, commander, @arbor/*),
// and tree-shaking leaves out what the CLI never calls (the Gardener, most of inversify).
// Runs after tsc; the library (dist/index.js) stays tsc's. Issue #15 has the figures.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

const packagesDir = join(here, '..');

/**
 * arborSources resolves @arbor/<package> to that package's TypeScript source, and marks every
 * module of packages/<p>/src free of side effects: the CLI loads the client lazily, so esbuild
 * wraps @arbor/core in an initializer that would otherwise run all of core's index at start
 * (the Gardener, inversify, reflect-metadata) for the few errors and helpers the CLI uses.
 */
const arborSources = {
  name: 'arbor-sources',
  setup(b) {
    b.onResolve({ filter: /^@arbor\/[a-z-]+$/ }, (args) => ({
      path: join(packagesDir, args.path.slice('@arbor/'.length), 'src', 'index.ts'),
      sideEffects: false,
    }));
    b.onResolve({ filter: /^\.\.?\// }, async (args) => {
      if (args.pluginData === 'arbor-sources' || !args.importer.startsWith(packagesDir) || args.importer.includes('node_modules')) return undefined;
      const resolved = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'arbor-sources' });
      return resolved.errors.length > 0 ? { errors: resolved.errors } : { path: resolved.path, sideEffects: false };
    });
  },
};

/**
 * lazyChildProcess: commander requires node:child_process when it loads, for executable
 * subcommands, which arbor has none of; loading it costs about a tenth of node's own start.
 * Commander gets an object that loads it on first use instead.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[/\\]commander[/\\]/.test(args.importer) ? { path: 'lazy-child-process', namespace: 'lazy-child-process' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, name) => require('node:child_process')[name] });",
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: [join(here, 'src', 'cli-run.ts')],
  outfile: join(here, 'dist', 'cli-bundle.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // ES module builds tree-shake; the CommonJS ones of the same packages do not
  mainFields: ['module', 'main'],
  // grpc-js loads proto-loader (and protobufjs) only to serve channelz and ORCA, which a
  // client never does: left out, it is 170 KB less to read and compile at each start
  external: ['@grpc/proto-loader'],
  minifySyntax: true,
  minifyWhitespace: true,
  sourcemap: 'linked',
  legalComments: 'none',
  plugins: [arborSources, lazyChildProcess],
  logLevel: 'warning',
});
