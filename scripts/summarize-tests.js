// summarize-tests.js adds up the per-package results written by jest-summary-reporter.js
// and prints the closing line CI reads: 'N passed, N failed, N skipped'.
const fs = require('node:fs');
const path = require('node:path');

const dir = process.argv[2];
const totals = { passed: 0, failed: 0, skipped: 0, suitesFailed: 0 };
const rows = [];
for (const file of fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()) {
  const r = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  totals.passed += r.passed;
  totals.failed += r.failed;
  totals.skipped += r.skipped;
  totals.suitesFailed += r.suitesFailed;
  // a package with no test of this tier (core has no integration test) adds only noise
  if (r.passed + r.failed + r.skipped + r.suitesFailed === 0) continue;
  rows.push(
    `  ${`${r.package} ${r.tier ?? ''}`.padEnd(36)} ${String(r.passed).padStart(5)} passed ${String(r.failed).padStart(4)} failed ${String(r.skipped).padStart(4)} skipped`,
  );
}
console.log('\nTest results by package and tier:');
console.log(rows.join('\n'));
if (totals.suitesFailed > 0) console.log(`${totals.suitesFailed} test file(s) failed to run`);
console.log(`${totals.passed} passed, ${totals.failed + totals.suitesFailed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed + totals.suitesFailed > 0 || totals.passed === 0 ? 1 : 0);
