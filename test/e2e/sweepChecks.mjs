// The sweep-matrix view in the real workbench (used by runUi.mjs). On the demo after Run All: its
// pivot-frame cell shows one compact pivot view, its own sweep matrix is drawn, and a click on a cell
// opens the baseline and that variant side by side with both traces (the detail files and images load
// through renderer messaging). On a notebook with a stored sweep output and its run folder (written by
// test/tooling/writeSweepNotebook.ts): an error cell, a clip where the variants agree (collapsed), and
// the CSV export opening in an editor.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { repoRoot } from './env.mjs';
import { frameWith } from './viewerChecks.mjs';
import { until } from './workbench.mjs';

/** Writes `examples/sweep-ui.alref` and its run folder into the workspace; returns its Explorer path. */
export function writeSweepFixture(workspace) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join('test', 'tooling', 'writeSweepNotebook.ts'), path.join(workspace, 'examples')], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) {
    throw new Error(`writing the sweep fixture failed (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
  return ['examples', 'sweep-ui.alref'];
}

/** What the matrix drawn in `frame` shows: its cell count, column heads, deltas and first error tooltip. */
async function readMatrix(frame) {
  return {
    cells: await frame.locator('.alref-sm-cell').count(),
    heads: (await frame.locator('.alref-sm-table thead th').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim()),
    deltas: await frame.locator('.alref-sm-delta').allInnerTexts(),
    errors: await frame.locator('.alref-sm-cell[data-status="error"]').count(),
    error: (await frame.locator('.alref-sm-cell[data-status="error"]').count()) > 0 ? await frame.locator('.alref-sm-cell[data-status="error"]').first().getAttribute('title') : null,
  };
}

/**
 * A real click on the matrix cell of `variant` x `input`: waits until the side-by-side comparison
 * (baseline and that variant) has loaded the first clip of class `clipClass` with `images` images;
 * returns what it shows.
 */
async function openComparison(frame, variant, input, { clipClass = 'alref-sm-clip-differ', images = 4, page } = {}) {
  const cell = frame.locator(`.alref-sm-cell[data-variant="${variant}"][data-input="${input}"]`);
  if (page) {
    // A mouse click where the cell is drawn on the page (Playwright's own scrolling would move the
    // output webview's document, not the notebook, and click whatever output lies there then).
    const b = await cell.boundingBox();
    await page.mouse.click(b.x + b.width / 2, b.y + b.height / 2);
  } else {
    await cell.click();
  }
  await until(async () => (await frame.locator(`.${clipClass} .alref-sm-side`).count()) >= 2, 'the side-by-side comparison to load both variants', 60_000, 250);
  const clip = frame.locator(`.${clipClass}`).first();
  await until(async () => (await clip.locator('img').evaluateAll((imgs) => imgs.filter((i) => i.complete && i.naturalWidth > 0).length)) >= images, 'the images the LLM saw to load', 30_000, 250);
  return {
    status: await frame.locator('.alref-sm-compare-status').innerText(),
    variants: await clip.locator('.alref-sm-side h4').allInnerTexts(),
    answers: await clip.locator('.alref-sm-trace-frame mark').allInnerTexts(),
    traces: (await clip.locator('.alref-sm-trace-frame').allInnerTexts()).map((t) => t.split('\n').length),
    diff: await clip.locator('.alref-sm-diff-add, .alref-sm-diff-del').count(),
    summary: await frame.locator('.alref-sm-differs li').allInnerTexts(),
    collapsed: await frame.locator('details.alref-sm-clip-agree:not([open])').count(),
  };
}

/** Scrolls the comparison panel into view when it starts too low, then takes the screenshot. */
async function screenshotComparison(page, frame, screenshot, say) {
  const panel = await frame.locator('.alref-sm-compare').boundingBox();
  const viewport = page.viewportSize();
  if (panel && viewport && (panel.y < 0 || panel.y + Math.min(panel.height, 500) > viewport.height)) {
    await page.mouse.move(viewport.width / 2, viewport.height / 2);
    await page.mouse.wheel(0, panel.y - 200);
    await new Promise((r) => setTimeout(r, 1500));
  }
  await page.screenshot({ path: screenshot });
  say(`screenshot: ${path.relative(repoRoot, screenshot)}`);
}

/** Reveals the notebook's outline entry (a markdown heading) containing `text` with "Go to Symbol in Editor" (`@`). */
async function revealSymbol(page, text, say) {
  try {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: 15_000 });
    await input.fill(`@${text}`);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first();
    await row.waitFor({ state: 'visible', timeout: 15_000 });
    await row.click();
    await new Promise((r) => setTimeout(r, 1500));
    say(`revealed "${text}" with Go to Symbol in Editor`);
  } catch (err) {
    await page.keyboard.press('Escape').catch(() => undefined);
    say(`could not reveal "${text}" with Go to Symbol (${err instanceof Error ? err.message.split('\n')[0] : err}); scrolling instead`);
  }
}

/** Scrolls the notebook (from its left margin, where the wheel reaches the list) by `dy` pixels. */
async function scrollNotebook(page, dy) {
  const box = await page.locator('.notebook-editor:visible').first().boundingBox();
  if (box) {
    await page.mouse.move(box.x + 8, box.y + box.height / 2);
    await page.mouse.wheel(0, dy);
  }
}

/**
 * After Run All on the demo: scrolling down from the top, the dog's pivot-frame cell shows one pivot
 * view (the compact default: one row per clip, each trace expandable, no per-clip outputs beside it),
 * and the demo's own sweep matrix (cot and cot-v2 on car-shadow and the dog) is drawn; a real click on
 * cot-v2 x car-shadow opens both variants' answers side by side with their traces
 * (`screenshot`: test-results/ui-sweep.png). With `readmeShot`, also writes the README's picture
 * there: the top of the pivot view above the sweep matrix with its comparison, cut from the editor.
 */
export async function checkDemoSweep(page, say, screenshot, { readmeShot } = {}) {
  if (readmeShot) {
    rmSync(readmeShot, { force: true });
  }
  const editor = await page.locator('.notebook-editor:visible').first().boundingBox();
  if (editor) {
    await page.mouse.move(editor.x + 8, editor.y + editor.height / 2);
    await page.mouse.wheel(0, -100_000);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const pvSelector = '.alref-pv[data-cell-id="pivot-frame"]';
  const pvFrame = await until(async () => (await frameWith(page, pvSelector)) ?? (await scrollNotebook(page, 500), undefined), 'the demo\'s pivot-frame view to render', 90_000, 700);
  const view = {
    views: await pvFrame.locator(pvSelector).count(),
    rows: await pvFrame.locator(`${pvSelector} .alref-pv-row`).count(),
    traces: await pvFrame.locator(`${pvSelector} details.alref-pv-trace`).count(),
    streamedTraces: await pvFrame.locator('.alref-trace').count(),
  };
  say(`demo pivot-frame cell: ${JSON.stringify(view)}`);
  if (view.views !== 1 || view.rows !== 12 || view.traces !== 12 || view.streamedTraces !== 0) {
    throw new Error(`the demo's pivot-frame cell does not show one compact pivot view (12 rows, each with its trace, no trace outputs): ${JSON.stringify(view)}`);
  }
  // The README picture is a by-product: failing to frame it is said, not a failure of the checks.
  const cut = (locator, height) => editorCut(page, locator, height).catch((err) => say(`README picture not taken: ${err instanceof Error ? err.message : err}`));
  const pvShot = readmeShot ? await cut(pvFrame.locator(pvSelector).first(), 430) : undefined;

  // The pivot-box view in between is tall and its outputs grow as they render: jump to the sweep's
  // heading through the editor's symbol picker, then scroll the rest of the way.
  await revealSymbol(page, 'Comparing two prompts', say);
  const frame = await until(async () => (await frameWith(page, '.alref-sm-cell')) ?? (await scrollNotebook(page, 1200), undefined), 'the demo\'s sweep matrix to render', 240_000, 700);
  const matrix = await readMatrix(frame);
  say(`demo sweep matrix: ${matrix.cells} cells, columns ${JSON.stringify(matrix.heads)}, deltas ${JSON.stringify(matrix.deltas)}`);
  if (matrix.cells !== 4 || !matrix.heads.includes('cot baseline') || !matrix.heads.includes('cot-v2') || matrix.errors !== 0) {
    throw new Error(`the demo's sweep matrix is not drawn as expected: ${JSON.stringify(matrix)}`);
  }
  // The recorded replies: cot answers [2] on car-shadow's clip, cot-v2 (largest frame) [1].
  await revealSymbol(page, 'Comparing two prompts', say);
  await scrollToTop(page, frame.locator('.alref-sm-table').first(), say);
  const sides = await openComparison(frame, 1, 0, { images: 2, page });
  say(`demo sweep comparison: ${JSON.stringify(sides)}`);
  if (sides.variants.join() !== 'cot,cot-v2' || sides.answers.join() !== '[2],[1]' || sides.traces.length !== 2 || sides.diff < 2 || !sides.summary.some((l) => l.includes('[2] -> [1]'))) {
    throw new Error(`the demo's side-by-side comparison is not as expected: ${JSON.stringify(sides)}`);
  }
  await screenshotComparison(page, frame, screenshot, say);
  const smShot = readmeShot && pvShot ? await cut(frame.locator('.alref-sm-table').first(), 560) : undefined;
  if (readmeShot && pvShot && smShot) {
    const width = Math.min(pvShot.info.width, smShot.info.width);
    const top = await sharp(pvShot.data).extract({ left: 0, top: 0, width, height: pvShot.info.height }).toBuffer();
    const bottom = await sharp(smShot.data).extract({ left: 0, top: 0, width, height: smShot.info.height }).toBuffer();
    // sharp resizes before it composites: compose first, then scale the result.
    const both = await sharp({ create: { width, height: pvShot.info.height + smShot.info.height + 6, channels: 3, background: '#808080' } })
      .composite([{ input: top, top: 0, left: 0 }, { input: bottom, top: pvShot.info.height + 6, left: 0 }])
      .png()
      .toBuffer();
    await sharp(both).resize({ width: Math.min(width, 1280) }).png({ compressionLevel: 9, palette: true, quality: 90 }).toFile(readmeShot);
    say(`README picture: ${path.relative(repoRoot, readmeShot)} (pivot view above the sweep matrix)`);
  }
}

/**
 * Scrolls the notebook, in wheel steps of at most 2500 px (outputs above may still grow as they render),
 * until the top of `locator` lies 16 to 200 px below the editor's top; throws, saying where it is,
 * when it does not get there.
 */
async function scrollToTop(page, locator, say = () => undefined) {
  const editor = page.locator('.notebook-editor:visible').first();
  let where = '';
  for (let step = 0; step < 40; step++) {
    const [e, t] = [await editor.boundingBox(), await locator.boundingBox()];
    if (!e || !t) {
      throw new Error(`cannot scroll to an element that is not laid out (editor ${JSON.stringify(e)}, element ${JSON.stringify(t)})`);
    }
    where = `${Math.round(t.y - e.y)} px below the editor's top after ${step} steps`;
    if (t.y >= e.y + 16 && t.y <= e.y + 200) {
      say(`scrolled: ${where}`);
      await new Promise((r) => setTimeout(r, 800));
      return;
    }
    // The workbench may scroll less than a wheel event's delta: steps repeat until the element is there.
    const dy = Math.max(-2500, Math.min(2500, Math.round(t.y - (e.y + 60))));
    await page.mouse.move(e.x + 8, e.y + e.height / 2);
    await page.mouse.wheel(0, dy);
    await new Promise((r) => setTimeout(r, 700));
  }
  throw new Error(`could not scroll the notebook to the element: ${where}`);
}

/** Scrolls `locator` to the editor's top (see scrollToTop), then cuts `height` pixels of the editor from there (the outputs, without the side bars). */
async function editorCut(page, locator, height) {
  await scrollToTop(page, locator);
  const e = await page.locator('.notebook-editor:visible').first().boundingBox();
  const clip = { x: Math.round(e.x), y: Math.round(e.y), width: Math.round(e.width), height: Math.min(height, Math.round(e.height)) };
  const png = await page.screenshot({ clip });
  return { data: png, info: await sharp(png).metadata() };
}

/** With the fixture notebook open: the matrix (with an error cell), a click on a cell, the side-by-side view, the CSV export. */
export async function checkSweepMatrix(page, say, screenshot) {
  // The demo's matrix (4 cells) may still live in another webview: wait for the fixture's (6 cells).
  const fixtureFrame = async () => {
    for (const f of page.frames()) {
      if ((await f.locator('.alref-sm-cell').count().catch(() => 0)) === 6) {
        return f;
      }
    }
    return undefined;
  };
  const frame = await until(fixtureFrame, 'the stored sweep matrix (6 cells) to render', 90_000, 500);
  const matrix = await readMatrix(frame);
  say(`sweep matrix: ${matrix.cells} cells, columns ${JSON.stringify(matrix.heads)}, deltas ${JSON.stringify(matrix.deltas)}`);
  if (matrix.cells !== 6 || matrix.heads[1] !== 'cot-v1 baseline' || !/No frames decoded/.test(matrix.error ?? '')) {
    throw new Error(`the sweep matrix is not drawn as expected: ${JSON.stringify(matrix)}`);
  }

  // A real click on cot-v2's cell of the first input opens cot-v1 (baseline) and cot-v2 side by side.
  const sides = await openComparison(frame, 1, 0);
  say(`sweep comparison: ${JSON.stringify(sides)}`);
  if (sides.variants.join() !== 'cot-v1,cot-v2' || sides.answers.join() !== '[3],[2]' || sides.traces.length !== 2 || sides.diff < 2 || !sides.summary[0]?.includes('[3] -> [2]') || sides.collapsed !== 1) {
    throw new Error(`the side-by-side comparison is not as expected: ${JSON.stringify(sides)}`);
  }
  await screenshotComparison(page, frame, screenshot, say);

  // The CSV export opens from the run folder in an editor (renderer -> host openArtifact).
  await frame.locator('.alref-sm-export-csv').click();
  const tab = page.locator('.tabs-container .tab', { hasText: 'matrix.csv' });
  await tab.first().waitFor({ state: 'visible', timeout: 30_000 });
  say('sweep export: matrix.csv opened in an editor');
  // Close it with its tab's close button: it opened beside the notebook, and the empty group closes
  // with it, so later steps find one notebook editor again.
  await tab.first().hover();
  await tab.first().locator('.tab-actions .action-label').first().click();
  await tab.first().waitFor({ state: 'detached', timeout: 30_000 });
}
