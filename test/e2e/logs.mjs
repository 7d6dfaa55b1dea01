// Turns the workbench's automation log calls into printable lines and picks out the test output.
import { format } from 'node:util';

/** Formats the arguments of one `codeAutomationLog(type, args)` call like console.log would. */
export function formatLog(args) {
  const parts = Array.isArray(args) ? args : [args];
  return format(...parts);
}

/**
 * The part of a log line to print on the console for a test run: mocha's report (prefixed `[mocha] `
 * by test/integration/index.ts) and the suites' own `[alref-test]` lines; undefined for workbench noise.
 */
export function testOutput(line) {
  if (line.startsWith('[mocha] ')) {
    return line.slice('[mocha] '.length);
  }
  if (line.startsWith('[alref-test]')) {
    return line;
  }
  return undefined;
}
