// bundle-cli writes the `arbor` CLI as two files, which dist/cli.js runs: dist/cli-bundle.js
// (src/cli-run.ts: commander, the commands, their parsers) and dist/client-bundle.js
// (src/grpc-client.ts: grpc-js, the proto codecs), which the first loads only for a command
// that talks to arbord, so `arbor --help` and `arbor completion` neither read nor compile
// grpc-js. esbuild bundles each with everything it imports, so a start reads one or two
// files instead of resolving and reading several hundred, and tree-shaking leaves out what
// the CLI never calls (the Gardener, most of inversify). Runs after tsc; the library
// (dist/index.js) stays tsc's. Issue #15 has the figures.
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
 * LAZY_BUILTINS are node modules that a bundled package requires when it loads but uses only
 * in calls the CLI seldom or never makes; each costs part of node's own start to load.
 * commander's node:child_process serves executable subcommands (arbor has none); grpc-js's
 * dns resolves host names (not unix sockets) and its zlib serves compressed messages (arbord
 * sends none unasked).
 */
const LAZY_BUILTINS = [
  { module: 'node:child_process', importer: /[/\\]commander[/\\]/ },
  { module: 'dns', importer: /[/\\]@grpc[/\\]grpc-js[/\\]/ },
  { module: 'zlib', importer: /[/\\]@grpc[/\\]grpc-js[/\\]/ },
];

/**
 * lazyBuiltins gives each importer of LAZY_BUILTINS an object that loads the module on first
 * use instead; safe where the importer only reads properties in calls, not when it loads
 * (`dns.promises.lookup(...)` inside a function, never `const { lookup } = require('dns')`).
 */
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    for (const { module, importer } of LAZY_BUILTINS) {
      const filter = new RegExp(`^${module}$`);
      b.onResolve({ filter }, (args) => (importer.test(args.importer) ? { path: module, namespace: 'lazy-builtin' } : undefined));
    }
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: `module.exports = new Proxy({}, { get: (_, name) => require(${JSON.stringify(args.path)})[name] });`,
      loader: 'js',
    }));
  },
};

/**
 * clientBundleExternal leaves cli-modules.ts's require('./grpc-client') to dist/cli.js, which
 * answers it with client-bundle.js.
 */
const clientBundleExternal = {
  name: 'client-bundle-external',
  setup(b) {
    b.onResolve({ filter: /^\.\/grpc-client$/ }, (args) =>
      args.importer.endsWith('cli-modules.ts') ? { path: './client-bundle.js', external: true } : undefined,
    );
  },
};

const common = {
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
  logLevel: 'warning',
};

await Promise.all([
  build({
    ...common,
    entryPoints: [join(here, 'src', 'cli-run.ts')],
    outfile: join(here, 'dist', 'cli-bundle.js'),
    plugins: [clientBundleExternal, arborSources, lazyBuiltins],
  }),
  build({
    ...common,
    entryPoints: [join(here, 'src', 'grpc-client.ts')],
    outfile: join(here, 'dist', 'client-bundle.js'),
    plugins: [arborSources, lazyBuiltins],
  }),
]);
