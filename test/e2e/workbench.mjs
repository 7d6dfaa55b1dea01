// Workbench interactions for UI tests (playwright-core against the VS Code web workbench).
/* global document -- code inside frame.evaluate runs in the browser */
import { setTimeout as sleep } from 'node:timers/promises';

/** Waits until `fn()` returns a truthy value, polling; throws `what` on timeout. */
export async function until(fn, what, timeoutMs = 60_000, everyMs = 500) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) {
      return v;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    }
    await sleep(everyMs);
  }
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Runs a command from the command palette (F1), picking the entry whose label is exactly `label`
 * ("File: Save", not "File: Save All"), else the first entry containing it.
 */
export async function runCommand(page, label) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 15_000 });
  await input.fill(`>${label}`);
  const rows = page.locator('.quick-input-list .monaco-list-row', { hasText: label });
  const exact = rows.filter({ has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`) }) });
  await rows.first().waitFor({ state: 'visible', timeout: 15_000 }).catch(() => undefined);
  const row = (await exact.count()) > 0 ? exact.first() : rows.first();
  try {
    await row.waitFor({ state: 'visible', timeout: 15_000 });
  } catch (err) {
    const shown = await page.locator('.quick-input-list .monaco-list-row').allInnerTexts().catch(() => []);
    await page.keyboard.press('Escape');
    throw new Error(`command "${label}" is not in the palette (it shows: ${shown.map((t) => JSON.stringify(t.replace(/\s+/g, ' '))).join(', ') || 'nothing'})`, { cause: err });
  }
  await row.click();
}

/** Opens a file from the Explorer view, expanding the folders on its path (`['examples', 'demo.alref']`). */
export async function openFromExplorer(page, segments) {
  await page.keyboard.press('Control+Shift+E');
  const tree = page.locator('.explorer-folders-view');
  await tree.waitFor({ state: 'visible', timeout: 60_000 });
  // Rows are matched on their whole name: "demo.alref" must not pick the "demo.alref.runs" folder.
  const row = (name) => tree.locator('.monaco-list-row').filter({
    has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(name)}$`) }),
  }).first();
  for (const name of segments.slice(0, -1)) {
    const folder = row(name);
    await folder.waitFor({ state: 'visible', timeout: 30_000 });
    if ((await folder.getAttribute('aria-expanded')) !== 'true') {
      await folder.click();
    }
  }
  const file = row(segments.at(-1));
  await file.waitFor({ state: 'visible', timeout: 30_000 });
  await file.dblclick();
}

/**
 * Makes sure the notebook just opened shows in the notebook editor (hidden editors of other tabs do not
 * count); reopens it with the notebook editor if it opened as text.
 */
export async function ensureNotebookEditor(page, editorName, say = console.log) {
  const notebook = page.locator('.notebook-editor .cell-list-container:visible, .notebookOverlay .cell-list-container:visible').first();
  try {
    await notebook.waitFor({ state: 'visible', timeout: 30_000 });
    return 'notebook editor';
  } catch {
    say('the notebook did not open in the notebook editor; using "View: Reopen Editor With..."');
  }
  await runCommand(page, 'View: Reopen Editor With...');
  const choice = page.locator('.quick-input-list .monaco-list-row', { hasText: editorName }).first();
  await choice.waitFor({ state: 'visible', timeout: 15_000 });
  await choice.click();
  await notebook.waitFor({ state: 'visible', timeout: 30_000 });
  return 'notebook editor (reopened)';
}

/**
 * Runs every cell of the notebook in the active editor: "Notebook: Run All" from the command palette
 * (or the notebook toolbar's button when the palette does not list it), then waits until the run has
 * started (the toolbar offers "Stop Execution", or `started()` is true) and until no cell runs any more.
 * Picks the AL-Ref kernel if VS Code asks for one.
 */
export async function runAllCells(page, say, { started = async () => false, timeoutMs = 300_000 } = {}) {
  try {
    await runCommand(page, 'Notebook: Run All');
    say('ran "Notebook: Run All" from the command palette');
  } catch (err) {
    // code-server 4.139 does not always list the notebook's "Run All" in the palette (it is
    // filtered by the active-editor context); the notebook toolbar's button runs the same command.
    say(`${err.message}; using the notebook toolbar's Run All button`);
    await page.locator('.notebook-toolbar-container .action-label.codicon-notebook-execute-all:visible').first().click();
    say('clicked "Run All" in the notebook toolbar');
  }
  const kernel = /AL-Ref/;
  // While any cell runs, the notebook toolbar offers "Stop Execution" instead of "Run All".
  const stop = page.locator('.notebook-toolbar-container [aria-label^="Stop Execution"], .notebook-toolbar-container [aria-label^="Interrupt"]');
  const poll = (check) => async () => {
    await pickKernelIfAsked(page, kernel, say);
    return check();
  };
  const running = poll(async () => (await stop.count()) > 0 || (await started()));
  try {
    await until(running, 'the run to start', 60_000, 250);
  } catch {
    // On a loaded machine the first click can land before the notebook's kernel is ready: click once more.
    say('the run did not start within 60 s; clicking the notebook toolbar\'s Run All again');
    await page.locator('.notebook-toolbar-container .action-label.codicon-notebook-execute-all:visible').first().click();
    await until(running, 'the run to start (after a second Run All)', 180_000, 250);
  }
  await until(poll(async () => (await stop.count()) === 0), 'all cells to finish', timeoutMs, 1000);
}

/** If VS Code shows the kernel picker, picks the entry matching `kernelLabel`. */
export async function pickKernelIfAsked(page, kernelLabel, say = console.log) {
  const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: kernelLabel }).first();
  if (await row.isVisible().catch(() => false)) {
    say('kernel picker shown; choosing the AL-Ref kernel');
    await row.click();
    return true;
  }
  return false;
}

/**
 * Looks through every frame of the page (the notebook outputs live in a webview iframe nested in
 * another, and renderers draw into shadow roots) for rendered outputs: the frame-grid renderer's
 * figures (`figure.alref-fg`), their decoded images and clickable tiles, its error boxes, the
 * reasoning traces (`.alref-trace`, with their state and status text), markdown and any decoded image.
 */
export async function findRenderedOutputs(page) {
  const found = { frames: 0, images: 0, gridRoots: 0, gridImages: 0, tiles: 0, markdown: 0, traces: 0, traceStates: [], rendererErrors: [], overlaps: [] };
  for (const frame of page.frames()) {
    const r = await frame.evaluate(() => {
      const roots = [document];
      const walk = (root) => {
        for (const el of root.querySelectorAll('*')) {
          if (el.shadowRoot) {
            roots.push(el.shadowRoot);
            walk(el.shadowRoot);
          }
        }
      };
      walk(document);
      const decoded = (img) => img.complete && img.naturalWidth > 0;
      const out = { images: 0, gridRoots: 0, gridImages: 0, tiles: 0, markdown: 0, traces: 0, traceStates: [], rendererErrors: [], overlaps: [] };
      // Outputs drawn on top of each other (a person would see them overlap). VS Code positions each
      // output of the webview absolutely; compare the boxes of sibling outputs.
      const shown = (el) => (typeof el.checkVisibility === 'function' ? el.checkVisibility({ visibilityProperty: true, opacityProperty: true }) : true);
      const boxes = [...document.querySelectorAll('.output')].filter(shown).map((el) => ({ el, r: el.getBoundingClientRect() })).filter((b) => b.r.height > 0);
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i].r;
          const b = boxes[j].r;
          const v = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
          const h = Math.min(a.right, b.right) - Math.max(a.left, b.left);
          if (v > 4 && h > 4) {
            const what = (el) => {
              const host = el.querySelector('*');
              const text = (el.innerText || host?.shadowRoot?.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 40);
              return `"${text || host?.tagName?.toLowerCase() || 'output'}"`;
            };
            out.overlaps.push(`${what(boxes[i].el)} [${Math.round(a.top)}..${Math.round(a.bottom)}] and ${what(boxes[j].el)} [${Math.round(b.top)}..${Math.round(b.bottom)}] overlap by ${Math.round(v)} px`);
          }
        }
      }
      for (const root of roots) {
        out.images += [...root.querySelectorAll('img')].filter(decoded).length;
        out.gridRoots += root.querySelectorAll('figure.alref-fg').length;
        out.gridImages += [...root.querySelectorAll('.alref-fg-stage img')].filter(decoded).length;
        out.tiles += root.querySelectorAll('.alref-fg-tile').length;
        out.markdown += root.querySelectorAll('.rendered-markdown, .markdown-body').length;
        for (const t of root.querySelectorAll('.alref-trace')) {
          out.traces++;
          out.traceStates.push(`${t.dataset.state}: ${(t.querySelector('.alref-trace-status')?.textContent ?? '').trim()}`);
        }
        for (const e of root.querySelectorAll('.alref-fg-error')) {
          out.rendererErrors.push((e.textContent ?? '').slice(0, 200));
        }
      }
      return out;
    }).catch(() => undefined);
    if (!r || r.images + r.gridRoots + r.markdown + r.traces === 0) {
      continue;
    }
    found.frames++;
    for (const k of ['images', 'gridRoots', 'gridImages', 'tiles', 'markdown', 'traces']) {
      found[k] += r[k];
    }
    found.traceStates.push(...r.traceStates);
    found.rendererErrors.push(...r.rendererErrors);
    found.overlaps.push(...r.overlaps);
  }
  return found;
}
