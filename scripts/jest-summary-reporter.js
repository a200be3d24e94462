// jest-summary-reporter writes one package's totals for one tier (unit, integration or all,
// from jest.preset.js) to $ARBOR_TEST_RESULTS_DIR/<package>.<tier>.json, so that
// scripts/summarize-tests.js can print one closing line for the whole repo and every tier.
const fs = require('node:fs');
const path = require('node:path');

class JestSummaryReporter {
  constructor(_globalConfig, options = {}) {
    this.tier = options.tier ?? 'all';
  }

  onRunComplete(_contexts, results) {
    const dir = process.env.ARBOR_TEST_RESULTS_DIR;
    if (!dir) return;
    const pkg = JSON.parse(fs.readFileSync(path.join(process.cwd(), 'package.json'), 'utf8')).name;
    const summary = {
      package: pkg,
      tier: this.tier,
      passed: results.numPassedTests,
      failed: results.numFailedTests,
      skipped: results.numPendingTests + results.numTodoTests,
      suitesFailed: results.numRuntimeErrorTestSuites,
    };
    fs.writeFileSync(path.join(dir, `${pkg.replace(/[@/]/g, '_')}.${this.tier}.json`), JSON.stringify(summary));
  }
}
module.exports = JestSummaryReporter;
