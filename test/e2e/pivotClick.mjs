// The UI test's click-to-override check (used by runUi.mjs), on the record notebook after its run
// (./recordRun.mjs): a real mouse click on a tile of the pivot-frame cell's pivot view (the output
// webview) must write `overrides:` into that cell's YAML (checked in the saved file) and show the
// pivot-box cell below it as stale in its status bar (test-results/ui-override.png).
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './env.mjs';
import { RECORD_NOTEBOOK } from './recordRun.mjs';
import { runCommand, until } from './workbench.mjs';

/** The output webview frame holding `selector`, if one does. */
async function frameWith(page, selector) {
  for (const frame of page.frames()) {
    if ((await frame.locator(selector).count().catch(() => 0)) > 0) {
      return frame;
    }
  }
  return undefined;
}

/** Scrolls the notebook (from its left margin, where the wheel reaches the list) by `dy` pixels. */
async function scrollNotebook(page, dy) {
  const editor = page.locator('.notebook-editor:visible').first();
  const box = await editor.boundingBox();
  if (box) {
    await page.mouse.move(box.x + 8, box.y + box.height / 2);
    await page.mouse.wheel(0, dy);
  }
}

export async function checkPivotClick(page, workspace, say, screenshot) {
  const file = path.join(workspace, ...RECORD_NOTEBOOK);
  const tileSelector = '.alref-pv[data-stage="pivot-frame"] .alref-pv-tile:not(.alref-pv-chosen):not([disabled])';
  const viewport = page.viewportSize();
  // Scroll down from where the record run left the notebook until an unchosen tile of the pivot view lies fully on screen.
  let reported = false;
  const target = await until(async () => {
    const any = await frameWith(page, '.alref-pv');
    if (any && !reported) {
      reported = true;
      const all = await any.locator('.alref-pv-tile').count();
      const disabled = await any.locator('.alref-pv-tile[disabled]').count();
      say(`pivot views rendered: ${await any.locator('.alref-pv').count()}, tiles: ${all} (${disabled} disabled)`);
      if (all > 0 && disabled === all) {
        throw new Error('the pivot view tiles are disabled: the renderer has no messaging with the extension');
      }
    }
    // Other notebooks (the demo) have pivot views too, in webviews of editors in the background:
    // only a tile laid out on screen counts.
    for (const frame of page.frames()) {
      const tiles = frame.locator(tileSelector);
      const n = await tiles.count().catch(() => 0);
      for (let i = 0; i < n; i++) {
        if (!(await tiles.nth(i).isVisible().catch(() => false))) {
          continue;
        }
        const b = await tiles.nth(i).boundingBox();
        // Its centre on screen, below the toolbars and above the status bar, is enough for a click.
        if (b && b.width > 6 && b.height > 6 && b.y + b.height / 2 > 120 && b.y + b.height / 2 < viewport.height - 40) {
          return { frame, tile: tiles.nth(i), box: b };
        }
      }
    }
    await scrollNotebook(page, 300);
    return undefined;
  }, 'a tile of the pivot view on screen', 90_000, 700);
  const frameIndex = Number(await target.tile.getAttribute('data-frame-index'));
  const clip = Number(await target.tile.getAttribute('data-clip'));
  const object = Number(await target.tile.getAttribute('data-object'));
  await page.mouse.click(target.box.x + target.box.width / 2, target.box.y + target.box.height / 2);
  say(`clicked the tile of frame ${frameIndex} in clip ${clip} of the pivot view`);
  const status = target.frame.locator('.alref-pv[data-stage="pivot-frame"] .alref-pv-status');
  await until(async () => /Override written/.test((await status.textContent()) ?? '') || ((await status.textContent()) ?? '').includes('Could not'), 'the host to answer the override', 30_000, 250);
  const said = (await status.textContent()) ?? '';
  if (!/Override written/.test(said)) {
    throw new Error(`the override was not written: ${said}`);
  }
  say(`pivot view: ${said.trim()}`);

  // The cells below turn stale: their status bar says so (scroll down to pivot-box).
  const staleItem = page.locator('.notebook-editor .cell-statusbar-container', { hasText: 'stale: "pivot-frame" changed' });
  await until(async () => {
    if ((await staleItem.count()) > 0) {
      return true;
    }
    await scrollNotebook(page, 400);
    return false;
  }, 'the pivot-box cell to show as stale', 60_000, 700);
  const editedItem = page.locator('.notebook-editor .cell-statusbar-container', { hasText: 'stale: edited' });
  say(`status bars: ${await staleItem.count()} cell(s) stale through "pivot-frame", ${await editedItem.count()} marked edited`);

  const before = statSync(file).mtimeMs;
  await runCommand(page, 'View: Focus Active Editor Group');
  await runCommand(page, 'File: Save');
  await until(async () => statSync(file).mtimeMs !== before, `${RECORD_NOTEBOOK.join('/')} to be saved`, 60_000, 250);
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  const cell = saved.cells.find((c) => c.id === 'pivot-frame' || c.metadata?.id === 'pivot-frame');
  const source = Array.isArray(cell?.source) ? cell.source.join('') : String(cell?.source ?? '');
  const expected = `- { clip: ${clip}, object: ${object}, frame: ${frameIndex} }`;
  if (!source.includes('overrides:') || !source.includes(expected)) {
    throw new Error(`the saved pivot-frame cell has no override "${expected}":\n${source}`);
  }
  say(`saved pivot-frame cell: ${source.trim().split('\n').join(' | ')}`);
  await page.screenshot({ path: screenshot });
  say(`screenshot: ${path.relative(repoRoot, screenshot)}`);
}
