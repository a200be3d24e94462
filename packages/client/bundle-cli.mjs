// bundle-cli writes dist/cli-bundle.js, the `arbor` CLI as one file, which dist/cli.js runs:
// esbuild bundles src/cli-run.ts with everything it imports, so a command's start-up reads
// one file instead of resolving and reading several hundred (grpc-js, commander, @arbor/*),
// and tree-shaking leaves out what the CLI never calls (the Gardener, most of inversify).
// Runs after tsc; the library (dist/index.js) stays tsc's. Issue #15 has the figures.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** arborSources resolves @arbor/<package> to that package's TypeScript source, for tree-shaking. */
const arborSources = {
  name: 'arbor-sources',
  setup(b) {
    b.onResolve({ filter: /^@arbor\/[a-z-]+$/ }, (args) => ({ path: join(here, '..', args.path.slice('@arbor/'.length), 'src', 'index.ts') }));
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
