// Turns the workbench's automation log calls into printable lines and picks out the test output.

/** Joins the arguments of one `codeAutomationLog(type, args)` call into a line. */
export function formatLog(args) {
  const parts = Array.isArray(args) ? args : [args];
  return parts
    .map((a) => {
      if (typeof a === 'string') {
        return a;
      }
      try {
        return JSON.stringify(a);
      } catch {
        return String(a);
      }
    })
    .join(' ')
    // Drop the %c styling directives the extension-host console forwarder adds.
    .replace(/%c/g, '')
    .replace(/\s*color:\s*[^;]*;?/g, '');
}

/** True for lines written by the extension host (the mocha report and the suites' own logs). */
export function isTestOutput(line) {
  return line.startsWith('[Extension Host]') || line.startsWith('[alref-test]');
}
