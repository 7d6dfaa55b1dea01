#!/usr/bin/env node
// `npm run test:ui`: what a person sees. Packages the extension as a .vsix, installs it into a fresh
// VS Code server (code-server), opens the workbench in headless Chromium on a throwaway copy of the
// workspace, opens examples/demo.alref from the Explorer, runs "Notebook: Run All" from the command
// palette, checks the rendered outputs inside the output webview frames, and saves a screenshot to
// test-results/ui-demo.png. On the demo's outputs (./sweepChecks.mjs): the pivot-frame cell shows one
// compact pivot view; the demo's own sweep matrix is drawn and a click on a cell opens both variants'
// answers side by side (test-results/ui-sweep.png); the top of the pivot view above the matrix is cut
// into test-results/ui-readme.png (copied to media/screenshot.png with --update-screenshot). Then it checks the
// viewers (./viewerChecks.mjs): hovering a frame-grid tile leaves the layout as it is, and the mask
// viewer of a notebook written into the workspace plays at the clip's rate, keeps its slider width,
// labels its opacity, hides an object from the legend and colours pivot ticks per object
// (test-results/ui-masks.png); in between, "AL-Ref: Export as HTML Report" on the executed demo, the
// report opened in Chromium with its images loaded (./htmlReport.mjs, test-results/ui-html-report.png);
// and the sweep matrix of a stored sweep output (./sweepChecks.mjs): an error cell, a click on a cell
// opens both variants' answers side by side (test-results/ui-sweep-fixture.png), the CSV export opens
// in an editor.
// Last, a record-mode run (./recordRun.mjs): the local OpenAI-compatible
// test server (./llmServer.mjs, a child process on 127.0.0.1, stopped by PID at the end, also on
// failure) answers a notebook written into the workspace (video -> reference -> pivot-frame, LLM
// mode record; `alref.llm.baseUrl` in the workspace's .vscode/settings.json, the key set with
// "AL-Ref: Set LLM API Key"); after "Notebook: Run All" and "File: Save" the saved file must hold
// every reasoning trace complete, each reply recorded in the run folder (test-results/ui-record.png).
// Then ./pivotClick.mjs: a real click on a tile of the pivot-frame cell's pivot view writes
// `overrides:` into that cell and marks the pivot-box cell below stale (test-results/ui-override.png).
//
// Options: --update-screenshot, --strict-layout (fail when outputs overlap), --keep (keep the
// scratch folder), --timeout <s> (default 1200).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchBrowser } from './browser.mjs';
import { installExtension, startCodeServer } from './codeServer.mjs';
import { e2eEnv, repoRoot, requireBuilt, resultsDir } from './env.mjs';
import { checkGridHover, checkMaskViewer, writeMaskViewerFixture } from './viewerChecks.mjs';
import { checkHtmlReport } from './htmlReport.mjs';
import { checkRecordRun, startLlmServer, writeRecordFixture } from './recordRun.mjs';
import { checkDemoSweep, checkSweepMatrix, writeSweepFixture } from './sweepChecks.mjs';
import { checkPivotClick } from './pivotClick.mjs';
import { makeScratch, prepareWorkspace } from './workspace.mjs';
import { ensureNotebookEditor, findRenderedOutputs, openFromExplorer, runAllCells, runCommand, until } from './workbench.mjs';

const started = Date.now();
const say = (msg) => console.log(`[test:ui ${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
const argValue = (name) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const timeoutS = Number(argValue('--timeout') ?? process.env.ALREF_UI_TIMEOUT_S ?? 1200);
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
    '--allow-missing-repository', '--skip-license', '--allow-star-activation', '--no-rewrite-relative-links', '--out', out,
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
  let llm;
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
    const maskNotebook = await writeMaskViewerFixture(workspace);
    const sweepNotebook = writeSweepFixture(workspace);
    llm = await startLlmServer(say);
    writeRecordFixture(workspace, llm.baseUrl);
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

    // When the demo is saved with outputs, clear them so that what is checked below was drawn by this run.
    const saved = JSON.parse(readFileSync(path.join(workspace, 'examples', 'demo.alref'), 'utf8'));
    if (saved.cells.some((c) => (c.outputs ?? []).length > 0)) {
      await until(async () => (await findRenderedOutputs(page)).gridRoots > 0, 'the saved outputs to render', 120_000, 1000);
      say('saved outputs rendered; clearing them');
      await runCommand(page, 'Notebook: Clear All Outputs');
      await until(async () => (await findRenderedOutputs(page)).gridRoots === 0, 'the outputs to clear', 30_000, 500);
    }
    await runCommand(page, 'View: Toggle Primary Side Bar Visibility');
    // Commands of the notebook editor show in the palette only while it has focus.
    await runCommand(page, 'View: Focus Active Editor Group');
    await sleep(500);

    await runAllCells(page, say, { started: async () => (await findRenderedOutputs(page)).gridRoots > 0 });
    say('all cells finished');
    // Back to the top (running cells may have scrolled the notebook): the video cell is the first stage.
    const editorBox = await page.locator('.notebook-editor').first().boundingBox();
    if (editorBox) {
      await page.mouse.move(editorBox.x + editorBox.width / 2, editorBox.y + editorBox.height / 2);
      await page.mouse.wheel(0, -100_000);
      await sleep(1000);
    }
    const outputs = await until(async () => {
      const f = await findRenderedOutputs(page);
      return f.gridRoots > 0 && f.gridImages > 0 ? f : undefined;
    }, 'the frame-grid outputs to render', 60_000, 1000);
    const final = await findRenderedOutputs(page);
    say(`rendered outputs: ${JSON.stringify(final)}`);
    if (final.rendererErrors.length > 0) {
      throw new Error(`the frame-grid renderer drew errors: ${final.rendererErrors.join(' | ')}`);
    }
    if (final.overlaps.length > 0) {
      // Reported, not failed: the cause (the extension's output updates or the workbench's output
      // layout) is still open; --strict-layout turns it into a failure.
      const msg = `outputs drawn on top of each other: ${final.overlaps.join('; ')}`;
      if (process.argv.includes('--strict-layout')) {
        throw new Error(msg);
      }
      say(`LAYOUT WARNING: ${msg}`);
    }
    if (final.tiles < final.gridRoots) {
      throw new Error(`frame grids without clickable tiles (${final.tiles} tiles in ${final.gridRoots} grids)`);
    }
    const success = await page.locator('.notebook-editor .codicon-notebook-state-success').count();
    if (success < 1) {
      throw new Error('the video cell does not show the success state after Run All');
    }

    // Frame the video cell and its outputs: scroll past the intro, then wait for the output
    // webview to stop moving (outputs are positioned asynchronously).
    if (editorBox) {
      await page.mouse.wheel(0, 190);
    }
    let last = '';
    await until(async () => {
      const now = JSON.stringify(await page.locator('.notebook-editor .webview, .notebook-editor iframe').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height)));
      const stable = now === last;
      last = now;
      return stable;
    }, 'the outputs to settle', 30_000, 1500).catch(() => undefined);
    mkdirSync(resultsDir, { recursive: true });
    const shot = path.join(resultsDir, 'ui-demo.png');
    await page.screenshot({ path: shot });
    say(`screenshot: ${path.relative(repoRoot, shot)} (first check: ${outputs.gridRoots} grids drawn, ${outputs.gridImages} images decoded)`);

    await checkGridHover(page, say);
    // The README's picture: the dog's pivot view above the demo's sweep matrix with a comparison open.
    await checkDemoSweep(page, say, path.join(resultsDir, 'ui-sweep.png'), { readmeShot: path.join(resultsDir, 'ui-readme.png') });
    if (updateScreenshot) {
      // The composed picture (pivot view above the matrix) needs two scrolls that can miss; the
      // matrix with its side-by-side view open (ui-sweep.png) is the fallback.
      const picture = ['ui-readme.png', 'ui-sweep.png'].map((f) => path.join(resultsDir, f)).find((f) => existsSync(f));
      if (!picture) {
        throw new Error('--update-screenshot: neither test-results/ui-readme.png nor ui-sweep.png was written (see above)');
      }
      copyFileSync(picture, path.join(repoRoot, 'media', 'screenshot.png'));
      say(`test-results/${path.basename(picture)} copied to media/screenshot.png`);
    }
    await checkHtmlReport(page, browser, workspace, say, path.join(resultsDir, 'ui-html-report.png'));
    await openFromExplorer(page, maskNotebook);
    say(`${maskNotebook.join('/')} opened`);
    await checkMaskViewer(page, say);
    await page.screenshot({ path: path.join(resultsDir, 'ui-masks.png') });
    say('screenshot: test-results/ui-masks.png');
    await openFromExplorer(page, sweepNotebook);
    say(`${sweepNotebook.join('/')} opened`);
    await checkSweepMatrix(page, say, path.join(resultsDir, 'ui-sweep-fixture.png'));

    await checkRecordRun(page, workspace, llm, say, path.join(resultsDir, 'ui-record.png'));
    await checkPivotClick(page, workspace, say, path.join(resultsDir, 'ui-override.png'));
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
    await llm?.stop();
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
