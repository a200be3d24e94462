// jest-summary-reporter writes one package's totals to $ARBOR_TEST_RESULTS_DIR/<package>.json
// so that scripts/summarize-tests.js can print one closing line for the whole repo.
const fs = require('node:fs');
const path = require('node:path');

class JestSummaryReporter {
  onRunComplete(_contexts, results) {
    const dir = process.env.ARBOR_TEST_RESULTS_DIR;
    if (!dir) return;
    const pkg = JSON.parse(fs.readFileSync(path.join(process.cwd(), 'package.json'), 'utf8')).name;
    const summary = {
      package: pkg,
      passed: results.numPassedTests,
      failed: results.numFailedTests,
      skipped: results.numPendingTests + results.numTodoTests,
      suitesFailed: results.numRuntimeErrorTestSuites,
    };
    fs.writeFileSync(path.join(dir, `${pkg.replace(/[@/]/g, '_')}.json`), JSON.stringify(summary));
  }
}
module.exports = JestSummaryReporter;
