// The UI test's record-mode run (used by runUi.mjs): a notebook written into the workspace (video ->
// reference -> pivot-frame, LLM mode record) runs against the local OpenAI-compatible test server
// (./llmServer.mjs, its own process on 127.0.0.1), is saved with "File: Save", and the saved file must
// hold every reasoning trace complete, each one's reply recorded in the notebook's run folder.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from './env.mjs';
import { ensureNotebookEditor, findRenderedOutputs, openFromExplorer, runAllCells, runCommand, until } from './workbench.mjs';

const TRACE_MIME = 'application/vnd.alref.reasoning-trace+json';
const PIVOT_VIEW_MIME = 'application/vnd.alref.pivot-view+json';
/** The key the test server accepts; stored with "AL-Ref: Set LLM API Key" as a person would. */
const API_KEY = 'sk-ui-record-test';
/** Where the notebook goes, relative to the workspace root. */
export const RECORD_NOTEBOOK = ['record', 'record.alref'];

/**
 * Starts ./llmServer.mjs as a child process (`node --import tsx`) and resolves once it listens.
 * `requests` counts the chat requests it answered; `stop()` ends it by PID (also when this process
 * exits without calling it).
 */
export async function startLlmServer(say, startTimeoutMs = 120_000) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test', 'e2e', 'llmServer.mjs')], {
    cwd: repoRoot,
    env: { ...process.env, ALREF_TEST_LLM_KEY: API_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  const killNow = () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killNow);
  let exitCode;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    exitCode = code ?? signal;
    resolve();
  }));
  const errors = [];
  child.stderr.on('data', (d) => errors.push(d.toString()));
  const server = { pid, baseUrl: undefined, requests: 0 };
  createInterface({ input: child.stdout }).on('line', (line) => {
    const msg = JSON.parse(line);
    if (msg.baseUrl) {
      server.baseUrl = msg.baseUrl;
    } else if (msg.request) {
      server.requests = msg.request;
    }
  });
  server.stop = async () => {
    process.removeListener('exit', killNow);
    if (exitCode === undefined) {
      process.kill(pid, 'SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (exitCode === undefined) {
        killNow();
      }
    }
  };
  try {
    await until(async () => {
      if (exitCode !== undefined) {
        throw new Error(`the test LLM server exited (${exitCode}): ${errors.join('')}`);
      }
      return server.baseUrl;
    }, 'the test LLM server to listen', startTimeoutMs, 200);
  } catch (err) {
    await server.stop();
    throw exitCode !== undefined ? new Error(`the test LLM server exited (${exitCode}): ${errors.join('')}`, { cause: err }) : err;
  }
  say(`test LLM server (pid ${pid}) on ${server.baseUrl}`);
  return server;
}

/**
 * Points the workspace's LLM settings at `baseUrl` (`.vscode/settings.json`: the notebook never names
 * an endpoint) and writes the record-mode notebook: a bundled sample clip cut to a few clips, a
 * reference, a pivot-frame cell and a pivot-box cell that needs no LLM (typed boxes, top score).
 */
export function writeRecordFixture(workspace, baseUrl) {
  const settingsFile = path.join(workspace, '.vscode', 'settings.json');
  mkdirSync(path.dirname(settingsFile), { recursive: true });
  const settings = existsSync(settingsFile) ? JSON.parse(readFileSync(settingsFile, 'utf8')) : {};
  Object.assign(settings, { 'alref.llm.baseUrl': baseUrl, 'alref.llm.timeoutMs': 60_000, 'alref.llm.maxRetries': 0 });
  writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
  const cells = [
    ['video', 'stage: video\nid: video\nsource: ../media/samples/03_blocks.mp4\nmaxFrames: 60\nmaxSide: 640\nfilmstripFrames: 0\n'],
    ['reference', 'stage: reference\nid: reference\nexpression: the stack of blocks\n'],
    // `view: full`: the streamed trace outputs stay above the pivot view, so the saved file and the
    // rendered notebook show whether each one ended complete (not "streaming…").
    ['pivot-frame', 'stage: pivot-frame\nid: pivot-frame\nconcurrency: 2\nview: full\n'],
    // Downstream of pivot-frame, without LLM calls (typed boxes, top score): stale after a click on the pivot view (./pivotClick.mjs).
    ['pivot-box', 'stage: pivot-box\nid: pivot-box\nstrategy: top-score\ncandidates: [[10, 10, 120, 90], [60, 40, 200, 160]]\n'],
  ];
  const file = path.join(workspace, ...RECORD_NOTEBOOK);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({
    cells: cells.map(([id, yaml]) => ({ cell_type: 'code', execution_count: null, id, metadata: { vscode: { languageId: 'alref' } }, outputs: [], source: yaml.split(/(?<=\n)/) })),
    metadata: { alref: { formatVersion: 1, llmMode: 'record' } },
    nbformat: 4,
    nbformat_minor: 5,
  }, null, 1));
  return RECORD_NOTEBOOK;
}

/** Stores the test server's key with "AL-Ref: Set LLM API Key" (typed into its password box). */
async function setApiKey(page, say) {
  await runCommand(page, 'AL-Ref: Set LLM API Key');
  const box = page.locator('.quick-input-widget input[type="password"]');
  await box.waitFor({ state: 'visible', timeout: 60_000 });
  await box.fill(API_KEY);
  await page.keyboard.press('Enter');
  await until(async () => (await page.locator('.notifications-toasts', { hasText: 'API key saved' }).count()) > 0, 'the "API key saved" notification', 60_000, 250);
  say('API key stored with "AL-Ref: Set LLM API Key"');
}

/** The reasoning-trace payloads of a saved notebook cell (nbformat: JSON MIME data stored as JSON). */
function savedTraces(cell) {
  return (cell.outputs ?? []).flatMap((o) => (o.data && o.data[TRACE_MIME] !== undefined ? [o.data[TRACE_MIME]] : []));
}

/**
 * Opens the record notebook, runs all cells, saves it and checks the file on disk: every trace of the
 * pivot-frame cell is complete (done, non-empty text with the answer, not "streaming…"), one per
 * request the server answered, and each reply is recorded in `<notebook>.runs/exchanges/`.
 */
export async function checkRecordRun(page, workspace, llm, say, screenshot) {
  const file = path.join(workspace, ...RECORD_NOTEBOOK);
  await setApiKey(page, say);
  await openFromExplorer(page, RECORD_NOTEBOOK);
  say(`${RECORD_NOTEBOOK.join('/')} opened in the ${await ensureNotebookEditor(page, 'AL-Ref Notebook', say)}`);
  await runCommand(page, 'View: Focus Active Editor Group');
  await runAllCells(page, say, { started: async () => llm.requests > 0 });
  say(`all cells finished; the test LLM server answered ${llm.requests} requests`);
  if (llm.requests === 0) {
    throw new Error('the record run sent no request to the test LLM server');
  }

  const before = statSync(file).mtimeMs;
  await runCommand(page, 'View: Focus Active Editor Group');
  await runCommand(page, 'File: Save');
  const dirtyTab = page.locator('.tabs-container .tab.active.dirty');
  await until(async () => statSync(file).mtimeMs !== before && (await dirtyTab.count()) === 0, `${RECORD_NOTEBOOK.join('/')} to be saved`, 60_000, 250);
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  const byId = (id) => saved.cells.find((c) => c.id === id || c.metadata?.id === id);
  for (const id of ['video', 'reference', 'pivot-frame', 'pivot-box']) {
    const cell = byId(id);
    const error = (cell?.outputs ?? []).find((o) => o.output_type === 'error' || o.data?.['application/vnd.code.notebook.error']);
    if (!cell || error) {
      throw new Error(`cell ${id} ${cell ? `saved with an error: ${JSON.stringify(error).slice(0, 400)}` : 'is not in the saved file'}`);
    }
  }
  const traces = savedTraces(byId('pivot-frame'));
  say(`saved: ${traces.length} reasoning traces (${traces.map((t) => `${t.done ? 'done' : 'NOT DONE'} ${t.text.length} chars ${t.answer ?? 'no answer'}`).join('; ')})`);
  if (traces.length === 0 || traces.length !== llm.requests) {
    throw new Error(`the saved pivot-frame cell has ${traces.length} reasoning traces for ${llm.requests} LLM requests`);
  }
  const incomplete = traces.filter((t) => t.done !== true || typeof t.text !== 'string' || t.text.trim() === '' || t.answer !== '[3]' || /streaming…/.test(t.text));
  if (incomplete.length > 0) {
    throw new Error(`saved traces are not complete: ${JSON.stringify(incomplete.map((t) => ({ streamId: t.streamId, done: t.done, text: t.text, answer: t.answer })))}`);
  }
  const exchangesDir = path.join(`${file}.runs`, 'exchanges');
  const replies = existsSync(exchangesDir)
    ? readdirSync(exchangesDir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(path.join(exchangesDir, f), 'utf8')).reply?.text)
    : [];
  if (replies.length !== llm.requests || !traces.every((t) => replies.includes(t.text))) {
    throw new Error(`${replies.length} exchanges recorded in ${path.relative(workspace, exchangesDir)} for ${llm.requests} requests, or a saved trace is not a recorded reply`);
  }
  // The pivot view after them holds the same traces, whole.
  const views = (byId('pivot-frame').outputs ?? []).flatMap((o) => (o.data && o.data[PIVOT_VIEW_MIME] !== undefined ? [o.data[PIVOT_VIEW_MIME]] : []));
  const rows = views.length === 1 ? views[0].rows : [];
  if (rows.length !== llm.requests || !rows.every((r) => r.answer === '[3]' && replies.includes(r.trace))) {
    throw new Error(`the saved pivot view (${views.length} of them) does not hold every recorded reply whole: ${JSON.stringify(rows.map((r) => [r.clip, r.answer, r.trace?.length]))}`);
  }
  say(`every saved trace is complete and recorded (${replies.length} exchanges), in the trace outputs and in the pivot view`);

  // What a person sees: the traces at the end of the notebook, none "streaming…". The notebook is
  // scrolled down from its left margin (over the output webview the wheel may not reach the list),
  // a step per poll until the traces are drawn (outputs are rendered as they come into view).
  const editor = page.locator('.notebook-editor:visible').first();
  const shown = await until(async () => {
    const box = await editor.boundingBox();
    if (box) {
      await page.mouse.move(box.x + 8, box.y + box.height / 2);
      await page.mouse.wheel(0, 1500);
    }
    const f = await findRenderedOutputs(page);
    return f.traceStates.filter((s) => !s.startsWith('streaming')).length >= traces.length ? f : undefined;
  }, 'the saved traces to render', 60_000, 1000);
  const streaming = shown.traceStates.filter((s) => s.startsWith('streaming'));
  if (streaming.length > 0) {
    throw new Error(`rendered traces that are not complete: ${streaming.join(', ')}`);
  }
  // VS Code renders outputs ahead of the viewport, so rendered traces may still lie below it: scroll
  // until the first trace is in the upper half of the editor, then take the screenshot.
  const where = await scrollTraceIntoView(page, editor);
  await page.screenshot({ path: screenshot });
  say(`screenshot: ${path.relative(repoRoot, screenshot)} (${shown.traces} traces rendered: ${[...new Set(shown.traceStates)].join(', ')}; first trace ${where})`);
}

/**
 * The page-coordinate box of the first rendered reasoning trace, or null. The trace renderer draws in
 * the output webview's nested iframe, inside a shadow root (Playwright's CSS pierces open shadow roots);
 * boxes of elements in frames are given in the page's coordinates.
 */
async function firstTraceBox(page) {
  for (const frame of page.frames()) {
    const trace = frame.locator('.alref-trace').first();
    if ((await trace.count().catch(() => 0)) > 0) {
      const box = await trace.boundingBox().catch(() => null);
      if (box) {
        return box;
      }
    }
  }
  return null;
}

/** Wheels the notebook (from its left margin) until the first trace's top is in the upper half of the editor; says where it ended. */
async function scrollTraceIntoView(page, editor) {
  for (let step = 0; step < 20; step++) {
    const [e, t] = [await editor.boundingBox(), await firstTraceBox(page)];
    if (!e || !t) {
      return 'not found';
    }
    if (t.y >= e.y && t.y <= e.y + e.height / 2) {
      return `in view at ${Math.round(t.y - e.y)} px below the editor's top`;
    }
    await page.mouse.move(e.x + 8, e.y + e.height / 2);
    await page.mouse.wheel(0, Math.round(t.y - (e.y + 80)));
    await page.waitForTimeout(400);
  }
  const [e, t] = [await editor.boundingBox(), await firstTraceBox(page)];
  return e && t ? `at ${Math.round(t.y - e.y)} px from the editor's top after 20 scroll steps` : 'not found';
}
