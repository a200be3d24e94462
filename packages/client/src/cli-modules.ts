/* eslint-disable @typescript-eslint/no-require-imports */
// The arbor CLI's heavy modules, loaded when a command needs them rather than at start-up:
// start-up is most of a short command's time (issue #15). `arbor --help` loads none of
// these and `arbor ping` only the client. A require() here, not import(): under nodenext an
// import() is an ES module load, which neither jest's CommonJS transform nor Node's CommonJS
// loader needs; esbuild's bundle (bundle-cli.mjs) keeps each one a lazily run module.

/**
 * grpcClient is the client with grpc-js, for the commands that talk to arbord. In the bundled
 * CLI this require is answered by dist/cli.js with client-bundle.js, a file of its own.
 */
export const grpcClient = (): typeof import('./grpc-client') => require('./grpc-client');

/** pullProgress draws `arbor pull`'s progress. */
export const pullProgress = (): typeof import('./pull-progress') => require('./pull-progress');

/** tarDirectory packs a local directory for `arbor stream-in --from-dir`. */
export const tarDirectory = (): typeof import('./tar-directory') => require('./tar-directory');

/** extractTar unpacks for `arbor stream-out --to-dir`. */
export const extractTar = (): typeof import('./extract-tar') => require('./extract-tar');
