// The sweep-matrix view in the real workbench (used by runUi.mjs): a notebook with a stored sweep
// output and its run folder (written by test/tooling/writeSweepNotebook.ts) opens, the matrix is drawn,
// a click on a cell opens the baseline and that variant side by side with both traces (the detail
// files and images load through renderer messaging), and the CSV export opens in an editor.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './env.mjs';
import { frameWith } from './viewerChecks.mjs';
import { runCommand, until } from './workbench.mjs';

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

/** With the fixture notebook open: the matrix, a click on a cell, the side-by-side view, the CSV export. */
export async function checkSweepMatrix(page, say, screenshot) {
  const frame = await until(() => frameWith(page, '.alref-sm-cell'), 'the sweep matrix to render', 90_000, 500);
  const cells = frame.locator('.alref-sm-cell');
  const matrix = {
    cells: await cells.count(),
    heads: (await frame.locator('.alref-sm-table thead th').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim()),
    deltas: await frame.locator('.alref-sm-delta').allInnerTexts(),
    error: await frame.locator('.alref-sm-cell[data-status="error"]').first().getAttribute('title'),
  };
  say(`sweep matrix: ${matrix.cells} cells, columns ${JSON.stringify(matrix.heads)}, deltas ${JSON.stringify(matrix.deltas)}`);
  if (matrix.cells !== 6 || matrix.heads[1] !== 'cot-v1 baseline' || !/No frames decoded/.test(matrix.error ?? '')) {
    throw new Error(`the sweep matrix is not drawn as expected: ${JSON.stringify(matrix)}`);
  }

  // A real click on cot-v2's cell of the first input opens cot-v1 (baseline) and cot-v2 side by side.
  await frame.locator('.alref-sm-cell[data-variant="1"][data-input="0"]').click();
  await until(async () => (await frame.locator('.alref-sm-clip-differ .alref-sm-side').count()) >= 2, 'the side-by-side comparison to load both variants', 60_000, 250);
  const clip = frame.locator('.alref-sm-clip-differ').first();
  await until(async () => (await clip.locator('img').evaluateAll((imgs) => imgs.filter((i) => i.complete && i.naturalWidth > 0).length)) >= 4, 'the images the LLM saw to load', 30_000, 250);
  const sides = {
    status: await frame.locator('.alref-sm-compare-status').innerText(),
    variants: await clip.locator('.alref-sm-side h4').allInnerTexts(),
    answers: await clip.locator('.alref-sm-trace-frame mark').allInnerTexts(),
    traces: (await clip.locator('.alref-sm-trace-frame').allInnerTexts()).map((t) => t.split('\n').length),
    diff: await clip.locator('.alref-sm-diff-add, .alref-sm-diff-del').count(),
    summary: await frame.locator('.alref-sm-differs li').allInnerTexts(),
    collapsed: await frame.locator('details.alref-sm-clip-agree:not([open])').count(),
  };
  say(`sweep comparison: ${JSON.stringify(sides)}`);
  if (sides.variants.join() !== 'cot-v1,cot-v2' || sides.answers.join() !== '[3],[2]' || sides.traces.length !== 2 || sides.diff < 2 || !sides.summary[0]?.includes('[3] -> [2]') || sides.collapsed !== 1) {
    throw new Error(`the side-by-side comparison is not as expected: ${JSON.stringify(sides)}`);
  }
  const panel = await frame.locator('.alref-sm-compare').boundingBox();
  const viewport = page.viewportSize();
  if (panel && viewport && panel.y + Math.min(panel.height, 500) > viewport.height) {
    await page.mouse.move(viewport.width / 2, viewport.height / 2);
    await page.mouse.wheel(0, panel.y - 200);
    await new Promise((r) => setTimeout(r, 1500));
  }
  await page.screenshot({ path: screenshot });
  say(`screenshot: ${path.relative(repoRoot, screenshot)}`);

  // The CSV export opens from the run folder in an editor (renderer -> host openArtifact).
  await frame.locator('.alref-sm-export-csv').click();
  const tab = page.locator('.tabs-container .tab', { hasText: 'matrix.csv' });
  await tab.first().waitFor({ state: 'visible', timeout: 30_000 });
  say('sweep export: matrix.csv opened in an editor');
  await runCommand(page, 'View: Close Editor');
}
