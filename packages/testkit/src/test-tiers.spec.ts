// Every package that has tests runs them in both tiers: CI (scripts/test.sh) runs
// `turbo run test:unit` and `turbo run test:integration`, and turbo skips a package that
// lacks the script, so a missing one would drop that package's tests without a word.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const PACKAGES = join(__dirname, '..', '..');

describe('test tier scripts', () => {
  const packages = readdirSync(PACKAGES)
    .map((name) => join(PACKAGES, name, 'package.json'))
    .filter((file) => existsSync(file))
    .map((file) => JSON.parse(readFileSync(file, 'utf8')) as { name: string; scripts?: Record<string, string> });

  it('finds the packages', () => {
    expect(packages.map((p) => p.name)).toEqual(expect.arrayContaining(['@arbor/core', '@arbor/testkit']));
  });

  it('gives every package with a test script a test:unit and a test:integration script that pick their tier', () => {
    const wrong = packages
      .filter((p) => p.scripts?.test !== undefined)
      .filter((p) => p.scripts?.['test:unit'] !== 'ARBOR_TEST_TIER=unit jest' || p.scripts?.['test:integration'] !== 'ARBOR_TEST_TIER=integration jest')
      .map((p) => p.name);
    expect(wrong).toEqual([]);
  });
});
