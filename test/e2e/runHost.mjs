#!/usr/bin/env node
// `npm run test:integration`: runs the mocha suites in out/integration/ INSIDE a real VS Code
// extension host (the VS Code server from the code-server npm package, driven by headless Chromium).
// Builds nothing: `npm test` builds first. Exits with the suites' exit code.
//
// Options: --grep <regexp> (only matching tests), --keep (keep the scratch folder), --timeout <s>.
// Environment: ALREF_E2E_TIMEOUT_S (overall limit, default 1200), ALREF_E2E_KEEP=1, ALREF_E2E_VERBOSE=1
// (print the whole workbench log, not only the extension host's).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser } from './browser.mjs';
import { startCodeServer } from './codeServer.mjs';
import { e2eEnv, repoRoot, requireBuilt, resultsDir } from './env.mjs';
import { makeScratch, prepareWorkspace } from './workspace.mjs';
import { formatLog, testOutput } from './logs.mjs';

function argValue(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const say = (msg) => console.log(`[test:integration ${elapsed()}] ${msg}`);
const timeoutS = Number(argValue('--timeout') ?? process.env.ALREF_E2E_TIMEOUT_S ?? 1200);
const grep = argValue('--grep') ?? process.env.ALREF_TEST_GREP;
if (process.argv.includes('--keep')) {
  process.env.ALREF_E2E_KEEP = '1';
}
const verbose = process.env.ALREF_E2E_VERBOSE === '1';

async function main() {
  requireBuilt('dist/extension.js', 'out/integration/index.js');
  const tools = e2eEnv();
  const scratch = makeScratch('host');
  let server;
  let browser;
  let timer;
  const fullLog = [];
  try {
    const workspace = prepareWorkspace(path.join(scratch.dir, 'workspace'));
    say(`workspace copy: ${workspace}`);
    server = await startCodeServer(tools, {
      scratch: scratch.dir,
      smokeTestDriver: true,
      env: { ALREF_TEST_REPO_ROOT: repoRoot, ALREF_TEST_TAG_REPORT: '1', ...(grep ? { ALREF_TEST_GREP: grep } : {}) },
    });
    say(`code-server ${tools.codeServerVersion} on ${server.origin} (process group ${server.pid})`);
    browser = await launchBrowser(tools, { scratch: scratch.dir });
    const page = browser.pages()[0] ?? (await browser.newPage());

    let finish;
    const done = new Promise((resolve) => {
      finish = resolve;
    });
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const line = formatLog(args);
      fullLog.push(`[${type}] ${line}`);
      const shown = verbose ? line : testOutput(line);
      if (shown !== undefined) {
        console.log(shown);
      }
    });
    await page.exposeFunction('codeAutomationExit', (code) => finish({ code: Number(code) }));
    page.on('pageerror', (err) => fullLog.push(`[pageerror] ${err.message}`));
    page.on('crash', () => finish({ code: 1, why: 'the page crashed' }));
    server.exited.then((code) => finish({ code: 1, why: `code-server exited (${code})` }));
    timer = setTimeout(() => finish({ code: 1, why: `overall time limit of ${timeoutS}s reached` }), timeoutS * 1000);

    const remote = (p) => `vscode-remote://127.0.0.1:${server.port}${p}`;
    const payload = [
      ['extensionDevelopmentPath', remote(repoRoot)],
      ['extensionTestsPath', remote(path.join(repoRoot, 'out', 'integration', 'index.js'))],
    ];
    const url = `${server.origin}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    say('opening the workbench; the suites start once the extension host is up');
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 120_000 });

    const result = await done;
    if (result.why) {
      say(`FAILED: ${result.why}`);
      console.log('--- last code-server output ---');
      console.log(server.tail());
    }
    say(`suites finished with exit code ${result.code}`);
    return result.code;
  } finally {
    clearTimeout(timer);
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(path.join(resultsDir, 'integration-workbench.log'), `${fullLog.join('\n')}\n`);
    await browser?.close().catch(() => undefined);
    await server?.stop();
    scratch.cleanup();
    say(`cleaned up (workbench log: ${path.relative(repoRoot, path.join(resultsDir, 'integration-workbench.log'))})`);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`[test:integration] ${err instanceof Error ? err.stack : err}`);
    process.exitCode = 1;
  },
);
