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

/** Runs a command from the command palette (F1), picking the entry whose label matches exactly. */
export async function runCommand(page, label) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 15_000 });
  await input.fill(`>${label}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
  await row.waitFor({ state: 'visible', timeout: 15_000 });
  await row.click();
}

/** Opens a file from the Explorer view, expanding the folders on its path (`['examples', 'demo.alref']`). */
export async function openFromExplorer(page, segments) {
  await page.keyboard.press('Control+Shift+E');
  const tree = page.locator('.explorer-folders-view');
  await tree.waitFor({ state: 'visible', timeout: 60_000 });
  for (const name of segments.slice(0, -1)) {
    const folder = tree.locator(`.monaco-list-row[aria-label^="${name}"]`).first();
    await folder.waitFor({ state: 'visible', timeout: 30_000 });
    if ((await folder.getAttribute('aria-expanded')) !== 'true') {
      await folder.click();
    }
  }
  const file = tree.locator(`.monaco-list-row[aria-label^="${segments.at(-1)}"]`).first();
  await file.waitFor({ state: 'visible', timeout: 30_000 });
  await file.dblclick();
}

/** Makes sure the demo shows in the notebook editor; reopens it with the notebook editor if it opened as text. */
export async function ensureNotebookEditor(page, editorName, say = console.log) {
  const notebook = page.locator('.notebook-editor .cell-list-container, .notebookOverlay .cell-list-container').first();
  try {
    await notebook.waitFor({ state: 'visible', timeout: 30_000 });
    return 'notebook editor';
  } catch {
    say('the demo did not open in the notebook editor; using "View: Reopen Editor With..."');
  }
  await runCommand(page, 'View: Reopen Editor With...');
  const choice = page.locator('.quick-input-list .monaco-list-row', { hasText: editorName }).first();
  await choice.waitFor({ state: 'visible', timeout: 15_000 });
  await choice.click();
  await notebook.waitFor({ state: 'visible', timeout: 30_000 });
  return 'notebook editor (reopened)';
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
 * another) for rendered outputs: images that decoded, frame-grid renderer DOM, markdown text.
 */
export async function findRenderedOutputs(page) {
  const found = { frames: 0, images: 0, gridImages: 0, gridRoots: 0, markdown: 0, errors: [] };
  for (const frame of page.frames()) {
    const r = await frame.evaluate(() => {
      const roots = [document];
      // Renderers may draw into shadow roots: walk into them.
      const walk = (root) => {
        for (const el of root.querySelectorAll('*')) {
          if (el.shadowRoot) {
            roots.push(el.shadowRoot);
            walk(el.shadowRoot);
          }
        }
      };
      walk(document);
      const outputs = document.querySelectorAll('.output, .output_container, [id^="output-"]').length;
      let images = 0;
      let gridImages = 0;
      let gridRoots = 0;
      let markdown = 0;
      const errors = [];
      for (const root of roots) {
        for (const img of root.querySelectorAll('img')) {
          if (img.complete && img.naturalWidth > 0) {
            images++;
            if (img.closest('[class*="frame-grid"], [class*="frameGrid"], [data-alref-renderer]') || root !== document) {
              gridImages++;
            }
          }
        }
        gridRoots += root.querySelectorAll('[class*="frame-grid"], [class*="frameGrid"], [data-alref-renderer="frame-grid"]').length;
        markdown += root.querySelectorAll('.rendered-markdown, .markdown-body, [class*="markdown"]').length;
        for (const e of root.querySelectorAll('.error, [class*="alref-error"]')) {
          errors.push((e.textContent ?? '').slice(0, 200));
        }
      }
      return { outputs, images, gridImages, gridRoots, markdown, errors };
    }).catch(() => undefined);
    if (!r || r.outputs + r.images + r.gridRoots === 0) {
      continue;
    }
    found.frames++;
    found.images += r.images;
    found.gridImages += r.gridImages;
    found.gridRoots += r.gridRoots;
    found.markdown += r.markdown;
    found.errors.push(...r.errors);
  }
  return found;
}

