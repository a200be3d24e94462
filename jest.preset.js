// Shared Jest config; each package's jest.config.js spreads it.
//
// Tests are src/**/*.spec.ts, in two tiers chosen by ARBOR_TEST_TIER (the package
// scripts set it):
//   unit         *.spec.ts but not *.int.spec.ts: no root, no runc, no Docker; a laptop
//                runs them in seconds (`pnpm turbo run test:unit`).
//   integration  *.int.spec.ts: real namespaces, cgroups, runc, Docker; run as root
//                (`pnpm turbo run test:integration`).
// Unset (`npx jest <path>`, `pnpm test`) runs both. An integration spec gates what it
// needs with describeIf({ root: true, runc: true, docker: true }) from @arbor/testkit,
// which skips the block (naming why) where the host lacks it.

const TIERS = {
  unit: { testPathIgnorePatterns: ['/node_modules/', '\\.int\\.spec\\.ts$'] },
  integration: { testMatch: ['<rootDir>/src/**/*.int.spec.ts'] },
  all: {},
};
const tier = process.env.ARBOR_TEST_TIER || 'all';
if (!(tier in TIERS)) throw new Error(`jest.preset.js: ARBOR_TEST_TIER is '${tier}', not one of ${Object.keys(TIERS).join(', ')}`);

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // the second reporter feeds the one closing line of scripts/test.sh
  reporters: ['default', [require.resolve('./scripts/jest-summary-reporter.js'), { tier }]],
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  // a package may have no test of a tier (core has no integration test)
  passWithNoTests: true,
  ...TIERS[tier],
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
  transformIgnorePatterns: ['/node_modules/(?!(\\.pnpm/[^/]+/node_modules/)?(inversify|@inversifyjs)/)'],
};
