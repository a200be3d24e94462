// Shared Jest config; each package's jest.config.js spreads it.
//
// Tests are src/**/*.spec.ts. Integration tests (*.int.spec.ts) are matched
// too, on purpose: one `jest` run per package covers both. An integration
// spec that needs root (namespaces, cgroups, Docker) must skip itself when it
// cannot run, e.g.
//   const describeRoot = process.getuid?.() === 0 ? describe : describe.skip;
// To run only unit tests: jest --testPathIgnorePatterns '\.int\.spec\.ts$'
// To run only integration tests: jest --testPathPatterns '\.int\.spec\.ts$'

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // the second reporter feeds the one closing line of scripts/test.sh
  reporters: ['default', require.resolve('./scripts/jest-summary-reporter.js')],
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform: {
    // swc ignores tsconfig: decorators must be configured here.
    '^.+\\.(t|j)s$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: false },
          target: 'es2022',
          keepClassNames: true,
        },
        module: { type: 'commonjs' },
        sourceMaps: 'inline',
      },
    ],
  },
  // Jest on Node 20 cannot require(esm): transform inversify (ESM-only from 8.x).
  transformIgnorePatterns: [
    '/node_modules/(?!(\\.pnpm/[^/]+/node_modules/)?(inversify|@inversifyjs)/)',
  ],
};
