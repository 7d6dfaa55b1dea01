#!/usr/bin/env node
// `npm run test:ui`: what a person sees. Packages the extension as a .vsix, installs it into a fresh
// VS Code server (code-server), opens the workbench in headless Chromium on a throwaway copy of the
// workspace, opens examples/demo.alref from the Explorer, runs "Notebook: Run All" from the command
// palette, checks the rendered outputs inside the output webview frames, and saves a screenshot to
// test-results/ui-demo.png (and to media/screenshot.png with --update-screenshot).
//
// Options: --update-screenshot, --keep (keep the scratch folder), --timeout <s> (default 900).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchBrowser } from './browser.mjs';
import { installExtension, startCodeServer } from './codeServer.mjs';
import { e2eEnv, repoRoot, requireBuilt, resultsDir } from './env.mjs';
import { makeScratch, prepareWorkspace } from './workspace.mjs';
import { ensureNotebookEditor, findRenderedOutputs, openFromExplorer, pickKernelIfAsked, runCommand, until } from './workbench.mjs';

const started = Date.now();
const say = (msg) => console.log(`[test:ui ${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
const argValue = (name) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const timeoutS = Number(argValue('--timeout') ?? process.env.ALREF_UI_TIMEOUT_S ?? 900);
const updateScreenshot = process.argv.includes('--update-screenshot');
if (process.argv.includes('--keep')) {
  process.env.ALREF_E2E_KEEP = '1';
}
const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
const extensionId = `${pkg.publisher}.${pkg.name}`;

/**
 * Packages the extension. Runtime dependencies that esbuild leaves external (sharp, onnxruntime-node,
 * ffmpeg/ffprobe binaries: about 470 MB with every platform's binaries) are not put in the .vsix;
 * after installing it, the installed folder gets a link to this checkout's node_modules.
 */
function packageVsix(out) {
  const r = spawnSync(process.execPath, [
    path.join(repoRoot, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies',
    '--allow-missing-repository', '--skip-license', '--allow-star-activation', '--out', out,
  ], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  if (r.status !== 0 || !existsSync(out)) {
    throw new Error(`vsce package failed (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
  return `${r.stdout}`.trim().split('\n').pop();
}

async function main() {
  requireBuilt('dist/extension.js');
  const tools = e2eEnv();
  const scratch = makeScratch('ui');
  let server;
  let browser;
  const timer = setTimeout(() => {
    console.error(`[test:ui] overall time limit of ${timeoutS}s reached`);
    process.exit(1); // the exit handlers kill code-server's process group
  }, timeoutS * 1000);
  const pageLog = [];
  let page;
  try {
    const vsix = path.join(scratch.dir, `${pkg.name}-${pkg.version}.vsix`);
    say(`packaging: ${packageVsix(vsix)}`);
    const extensionsDir = path.join(scratch.dir, 'extensions');
    const userDataDir = path.join(scratch.dir, 'user-data');
    mkdirSync(extensionsDir, { recursive: true });
    say(installExtension(tools, { scratch: scratch.dir, vsix, extensionsDir, userDataDir }).split('\n').pop());
    const installed = path.join(extensionsDir, `${extensionId}-${pkg.version}`);
    if (!existsSync(installed)) {
      throw new Error(`installed extension folder not found: ${installed}`);
    }
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(installed, 'node_modules'), 'dir');

    const workspace = prepareWorkspace(path.join(scratch.dir, 'workspace'));
    server = await startCodeServer(tools, { scratch: scratch.dir, extensionsDir });
    say(`code-server ${tools.codeServerVersion} on ${server.origin}`);
    browser = await launchBrowser(tools, { scratch: scratch.dir, viewport: { width: 1600, height: 1000 } });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('console', (m) => pageLog.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => pageLog.push(`[pageerror] ${e.message}`));

    await page.goto(`${server.origin}/?folder=${encodeURIComponent(workspace)}`, { waitUntil: 'domcontentloaded', timeout: 120_000 });
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 120_000 });
    say('workbench up');
    await openFromExplorer(page, ['examples', 'demo.alref']);
    say(`demo opened in the ${await ensureNotebookEditor(page, 'AL-Ref Notebook', say)}`);

    await runCommand(page, 'Notebook: Run All');
    say('ran "Notebook: Run All"');
    await sleep(1500);
    await pickKernelIfAsked(page, /AL-Ref/, say);

    // The video cell is the demo's first stage: wait for its outputs to be drawn.
    const outputs = await until(async () => {
      await pickKernelIfAsked(page, /AL-Ref/, say);
      const f = await findRenderedOutputs(page);
      return f.gridRoots > 0 && f.gridImages > 0 ? f : undefined;
    }, 'the frame-grid output to render', 300_000, 1000);
    // Let the remaining cells settle (later stages may fail with "not available yet").
    await until(async () => (await page.locator('.notebook-editor .codicon-notebook-state-executing, .notebook-editor .codicon-modifier-spin').count()) === 0, 'all cells to stop running', 300_000, 1000).catch((e) => say(String(e.message)));
    const final = await findRenderedOutputs(page);
    say(`rendered outputs: ${JSON.stringify({ ...final, errors: final.errors.length })}`);
    if (final.errors.length) {
      say(`error outputs in the page: ${final.errors.join(' | ')}`);
    }
    const success = await page.locator('.notebook-editor .codicon-notebook-state-success').count();
    if (success < 1) {
      throw new Error('no cell shows the success state after Run All');
    }

    // Show the first grid: scroll the video cell's output into view for the screenshot.
    await page.locator('.notebook-editor .cell-list-container').first().hover().catch(() => undefined);
    mkdirSync(resultsDir, { recursive: true });
    const shot = path.join(resultsDir, 'ui-demo.png');
    await page.screenshot({ path: shot });
    say(`screenshot: ${path.relative(repoRoot, shot)} (grid roots ${outputs.gridRoots}, grid images ${outputs.gridImages}, cells ok ${success})`);
    if (updateScreenshot) {
      copyFileSync(shot, path.join(repoRoot, 'media', 'screenshot.png'));
      say('copied to media/screenshot.png');
    }
    return 0;
  } catch (err) {
    if (page) {
      mkdirSync(resultsDir, { recursive: true });
      await page.screenshot({ path: path.join(resultsDir, 'ui-failure.png') }).catch(() => undefined);
      say('failure screenshot: test-results/ui-failure.png');
    }
    throw err;
  } finally {
    clearTimeout(timer);
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(path.join(resultsDir, 'ui-page.log'), `${pageLog.join('\n')}\n`);
    await browser?.close().catch(() => undefined);
    await server?.stop();
    scratch.cleanup();
  }
}

main().then(
  (code) => {
    say(code === 0 ? 'PASSED' : 'FAILED');
    process.exitCode = code;
  },
  (err) => {
    console.error(`[test:ui] FAILED: ${err instanceof Error ? err.stack : err}`);
    process.exitCode = 1;
  },
);
