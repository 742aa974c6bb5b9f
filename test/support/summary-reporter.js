// Prints one plain closing line that any CI reader understands: "tests: N passed, N failed".
// It is also written to coverage/test-summary.txt so scripts/test.sh can repeat it as the very
// last line of the run (Jest prints its own summary after the reporters).
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

class SummaryReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const brokenSuites = results.numRuntimeErrorTestSuites;
    const failed = results.numFailedTests + brokenSuites;
    const line =
      `tests: ${results.numPassedTests} passed, ${failed} failed` +
      (skipped ? `, ${skipped} skipped` : '');
    process.stdout.write(`\n${line}\n`);
    const dir = join(this.rootDir, 'coverage');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'test-summary.txt'), `${line}\n`);
  }
}
module.exports = SummaryReporter;
