/**
 * Entry of the in-host integration tests (`extensionTestsPath` → `out/integration/index.js`).
 * VS Code loads this module inside the extension host and awaits `run()`. The same entry serves the
 * code-server harness (test/e2e/runHost.mjs) and `@vscode/test-electron` (test/e2e/runElectron.mjs).
 *
 * Every `*.test.js` bundled next to this file (one per `test/integration/**\/*.test.ts`) is added, so
 * a suite is contributed by dropping a file in this folder.
 */
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';
import { format } from 'util';

function findSuites(dir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      found.push(...findSuites(full));
    } else if (entry.name.endsWith('.test.js')) {
      found.push(full);
    }
  }
  return found.sort();
}

/**
 * Prefixes mocha's report so that the harness can tell it from the workbench's own log lines (both
 * reach the driver through the same automation log).
 */
function tagReporterOutput(): void {
  const base = Mocha.reporters.Base as unknown as { consoleLog: (...args: unknown[]) => void };
  base.consoleLog = (...args: unknown[]) => console.log(`[mocha] ${format(...args)}`);
}

/** Runs all bundled suites with mocha's TDD UI; rejects when any test fails. */
export function run(): Promise<void> {
  if (process.env.ALREF_TEST_TAG_REPORT === '1') {
    tagReporterOutput();
  }
  const mocha = new Mocha({
    ui: 'tdd',
    color: false,
    reporter: 'spec',
    timeout: Number(process.env.ALREF_TEST_TIMEOUT_MS ?? 120_000),
    slow: 10_000,
  });
  const grep = process.env.ALREF_TEST_GREP;
  if (grep) {
    mocha.grep(new RegExp(grep));
  }
  const suites = findSuites(__dirname);
  for (const file of suites) {
    mocha.addFile(file);
  }
  console.log(`[alref-test] ${suites.length} suite file(s): ${suites.map((f) => path.relative(__dirname, f)).join(', ')}`);
  return new Promise((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        const { passes = 0, pending = 0 } = runner.stats ?? {};
        console.log(`[alref-test] ${passes} passed, ${failures} failed, ${pending} pending`);
        if (failures > 0) {
          reject(new Error(`${failures} integration test(s) failed.`));
        } else {
          resolve();
        }
      });
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
