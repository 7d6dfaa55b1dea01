// Checks of the output viewers in the real workbench (used by runUi.mjs): the frame grid's enlarged
// tile must not change the page layout, and the mask viewer (a notebook with a saved mask-overlay
// output and a run folder written here) must play at the clip's rate, keep its slider width, label its
// opacity control, hide an object from the legend and colour each object's pivot ticks.
/* global document -- code inside frame.evaluate runs in the browser */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { until } from './workbench.mjs';

/** The first frame of the page whose document (or a shadow root in it) matches `selector`. */
export async function frameWith(page, selector) {
  for (const frame of page.frames()) {
    if ((await frame.locator(selector).count().catch(() => 0)) > 0) {
      return frame;
    }
  }
  return undefined;
}

/** Heights of the notebook's rendered cell rows (main page) and of the outputs in the webview. */
async function layoutHeights(page, frame) {
  const rows = await page.evaluate(() =>
    [...document.querySelectorAll('.notebook-editor .monaco-list-row')].map((r) => `${r.getAttribute('data-index')}:${Math.round(r.getBoundingClientRect().height)}`).join(' '),
  );
  const outputs = await frame.evaluate(() => [...document.querySelectorAll('.output')].map((o) => Math.round(o.getBoundingClientRect().height)).join(' '));
  return { rows, outputs };
}

/** Item 7: hovering a tile shows the enlarged view over the grid; no row or output changes height. */
export async function checkGridHover(page, say) {
  const frame = await frameWith(page, '.alref-fg-tile');
  if (!frame) {
    throw new Error('no frame-grid tiles to hover');
  }
  const viewport = page.viewportSize();
  const tiles = frame.locator('.alref-fg-tile');
  let box;
  for (let i = 0, n = await tiles.count(); i < n && !box; i++) {
    const b = await tiles.nth(i).boundingBox();
    if (b && b.y > 80 && b.y + b.height < viewport.height - 20 && b.width > 8) {
      box = b;
    }
  }
  if (!box) {
    throw new Error('no frame-grid tile is on screen to hover');
  }
  await page.mouse.move(box.x - 40 > 0 ? box.x - 40 : 5, 5);
  await sleep(800);
  const before = await layoutHeights(page, frame);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await until(async () => (await frame.locator('.alref-fg-zoom:not([hidden])').count()) > 0, 'the enlarged tile to show on hover', 10_000, 100);
  await sleep(1000);
  const during = await layoutHeights(page, frame);
  const zoom = await frame.locator('.alref-fg-zoom:not([hidden])').first().boundingBox();
  await page.mouse.move(5, 5);
  say(`grid hover: enlarged tile ${zoom ? `${Math.round(zoom.width)}x${Math.round(zoom.height)} px` : '?'}; cell rows ${before.rows === during.rows ? 'unchanged' : 'CHANGED'}, outputs ${before.outputs === during.outputs ? 'unchanged' : 'CHANGED'}`);
  if (before.rows !== during.rows || before.outputs !== during.outputs) {
    throw new Error(`hovering a frame-grid tile changed the layout: rows [${before.rows}] -> [${during.rows}], outputs [${before.outputs}] -> [${during.outputs}]`);
  }
}

const MASK_W = 640;
const MASK_H = 360;
const MASK_FRAMES = 60;
const MASK_FPS = 30;
/** Object 1: an 80 px square moving 8 px a frame; object 2: a still rectangle (never overlapping). */
const square = (f) => ({ x0: 40 + 8 * f, y0: 140, x1: 120 + 8 * f, y1: 220 });
const still = { x0: 500, y0: 40, x1: 600, y1: 120 };

/** COCO RLE (column-major runs, first run of zeros) of a rectangle. */
function rectRle(r) {
  const counts = [];
  let value = 0;
  let run = 0;
  for (let x = 0; x < MASK_W; x++) {
    for (let y = 0; y < MASK_H; y++) {
      const v = x >= r.x0 && x < r.x1 && y >= r.y0 && y < r.y1 ? 1 : 0;
      if (v !== value) {
        counts.push(run);
        value = v;
        run = 0;
      }
      run++;
    }
  }
  counts.push(run);
  return { size: [MASK_H, MASK_W], counts };
}

/** Writes `examples/masks-ui.alref` (one saved mask-overlay output) and its run folder into the workspace. */
export async function writeMaskViewerFixture(workspace) {
  const notebook = path.join(workspace, 'examples', 'masks-ui.alref');
  const runDir = `${notebook}.runs`;
  const framesDir = path.join(runDir, 'frames', 'ui');
  mkdirSync(framesDir, { recursive: true });
  mkdirSync(path.join(runDir, 'artifacts'), { recursive: true });
  for (let f = 0; f < MASK_FRAMES; f++) {
    const px = Buffer.alloc(MASK_W * MASK_H * 3);
    const sq = square(f);
    for (let y = 0; y < MASK_H; y++) {
      for (let x = 0; x < MASK_W; x++) {
        const o = (y * MASK_W + x) * 3;
        const inSquare = x >= sq.x0 && x < sq.x1 && y >= sq.y0 && y < sq.y1;
        px[o] = inSquare ? 240 : (x * 255) / MASK_W;
        px[o + 1] = inSquare ? 240 : (y * 255) / MASK_H;
        px[o + 2] = inSquare ? 240 : 90;
      }
    }
    const jpeg = await sharp(px, { raw: { width: MASK_W, height: MASK_H, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
    writeFileSync(path.join(framesDir, `${String(f).padStart(5, '0')}.jpg`), jpeg);
  }
  const masks = [Array.from({ length: MASK_FRAMES }, (_, f) => rectRle(square(f))), Array.from({ length: MASK_FRAMES }, () => rectRle(still))];
  masks.forEach((m, k) => writeFileSync(path.join(runDir, 'artifacts', `object${k + 1}.json`), JSON.stringify(m)));
  const payload = {
    version: 1,
    width: MASK_W,
    height: MASK_H,
    frameCount: MASK_FRAMES,
    fps: MASK_FPS,
    frames: { dir: 'frames/ui', pad: 5, ext: '.jpg' },
    objects: [
      { objectId: 1, text: 'the moving square', colour: 'rgb(230, 25, 75)', pivotFrames: [10, 40], masks: { ref: 'artifacts/object1.json', mime: 'application/json' } },
      { objectId: 2, text: 'the still box', colour: 'rgb(60, 180, 75)', pivotFrames: [40], masks: { ref: 'artifacts/object2.json', mime: 'application/json' } },
    ],
    caption: `Masks over ${MASK_FRAMES} frames`,
  };
  const nb = {
    cells: [
      { cell_type: 'markdown', id: 'intro', metadata: {}, source: ['# Mask viewer (UI test)'] },
      {
        cell_type: 'code',
        execution_count: null,
        id: 'propagate',
        metadata: { vscode: { languageId: 'alref' } },
        outputs: [{ output_type: 'display_data', data: { 'application/vnd.alref.mask-overlay+json': payload }, metadata: {} }],
        source: ['stage: propagate\n', 'id: propagate\n'],
      },
    ],
    metadata: { alref: { formatVersion: 1, llmMode: 'replay' } },
    nbformat: 4,
    nbformat_minor: 5,
  };
  writeFileSync(notebook, `${JSON.stringify(nb, null, 1)}\n`);
  return ['examples', 'masks-ui.alref'];
}

/** Browser-side: runs `body(q, qa)` where q/qa query through open shadow roots. */
const DEEP = `
  const roots = [document];
  for (let i = 0; i < roots.length; i++) {
    for (const el of roots[i].querySelectorAll('*')) { if (el.shadowRoot) roots.push(el.shadowRoot); }
  }
  const qa = (sel) => roots.flatMap((r) => [...r.querySelectorAll(sel)]);
  const q = (sel) => qa(sel)[0];
  const frames = (n) => new Promise((res) => { let k = 0; const step = () => (++k >= n ? res() : requestAnimationFrame(step)); requestAnimationFrame(step); });
`;

/** Items 13 and 14 in the mask viewer of the fixture notebook (already open). */
export async function checkMaskViewer(page, say) {
  const frame = await until(() => frameWith(page, 'canvas.alref-mo-frame[data-drawn]'), 'the mask viewer to draw a frame (frames and masks through renderer messaging)', 90_000, 500);
  const run = (body) => frame.evaluate(`(async () => { ${DEEP} ${body} })()`);

  // 14: slider width with and without "(pivot)" (and with one digit fewer).
  const widths = await run(`
    const root = q('figure.alref-mask-overlay');
    const slider = q('.alref-mo-slider');
    const label = q('.alref-mo-label');
    const out = [];
    const at = async (how) => { how(); await frames(3); out.push({ text: label.textContent, width: slider.getBoundingClientRect().width }); };
    await at(() => q('.alref-mo-mark[data-object="1"][data-frame="10"]').click());
    await at(() => root.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true })));
    await at(() => root.dispatchEvent(new KeyboardEvent('keydown', { key: 'Home', bubbles: true })));
    await at(() => q('.alref-mo-mark[data-object="2"]').click());
    return out;`);
  say(`mask viewer slider: ${widths.map((w) => `"${w.text}" ${w.width.toFixed(1)} px`).join(', ')}`);
  if (!widths[0].text.includes('(pivot)') || widths[1].text.includes('(pivot)')) {
    throw new Error(`the frame label does not mark the pivot frame: ${JSON.stringify(widths)}`);
  }
  if (new Set(widths.map((w) => w.width.toFixed(1))).size !== 1) {
    throw new Error(`the frame slider changes width with its label: ${JSON.stringify(widths)}`);
  }

  // 14: the opacity slider's label; the pivot ticks in their object's legend colour.
  const look = await run(`
    const opacity = q('.alref-mo-opacity');
    const label = opacity.closest('label');
    const lb = label ? label.getBoundingClientRect() : { width: 0 };
    const colourOf = (id) => getComputedStyle(q('.alref-mo-legend-toggle[data-object="' + id + '"] .alref-mo-swatch')).backgroundColor;
    return {
      aria: opacity.getAttribute('aria-label'),
      labelText: label ? label.innerText.trim() : '',
      labelVisible: lb.width > 0,
      marks: qa('.alref-mo-mark').map((m) => ({ object: m.dataset.object, colour: getComputedStyle(m).backgroundColor, legend: colourOf(m.dataset.object) })),
    };`);
  say(`mask viewer opacity label "${look.labelText}" (aria-label "${look.aria}"); pivot ticks ${look.marks.map((m) => `object ${m.object} ${m.colour}`).join(', ')}`);
  if (look.aria !== 'Mask opacity' || look.labelText !== 'Opacity' || !look.labelVisible) {
    throw new Error(`the opacity slider is not labelled: ${JSON.stringify(look)}`);
  }
  if (look.marks.length !== 3 || look.marks.some((m) => m.colour !== m.legend) || look.marks[0].colour === look.marks[2].colour) {
    throw new Error(`pivot ticks are not in their object's colour: ${JSON.stringify(look.marks)}`);
  }

  // 14: hide object 2 from the legend with the keyboard (Enter on its button), then show it by clicking.
  const maskAt = `(() => { const c = q('canvas.alref-mo-masks'); return { painted: Number(c.dataset.painted), alpha: c.getContext('2d').getImageData(550, 80, 1, 1).data[3] }; })()`;
  const shown = await run(`await frames(2); return ${maskAt};`);
  await frame.locator('.alref-mo-legend-toggle[data-object="2"]').press('Enter');
  const hidden = await run(`await frames(2); return { ...${maskAt}, pressed: q('.alref-mo-legend-toggle[data-object="2"]').getAttribute('aria-pressed') };`);
  const back = await run(`q('.alref-mo-legend-toggle[data-object="2"]').click(); await frames(2); return { ...${maskAt}, pressed: q('.alref-mo-legend-toggle[data-object="2"]').getAttribute('aria-pressed') };`);
  say(`mask viewer legend: object 2 shown ${JSON.stringify(shown)}, hidden ${JSON.stringify(hidden)}, shown again ${JSON.stringify(back)}`);
  if (!(shown.alpha > 0) || hidden.alpha !== 0 || hidden.pressed !== 'false' || !(hidden.painted < shown.painted) || back.alpha === 0 || back.pressed !== 'true') {
    throw new Error('the legend does not hide and show object 2');
  }

  // 13: playback against the clock: frames advanced and frames drawn over 120 animation frames.
  const play = await run(`
    const root = q('figure.alref-mask-overlay');
    const n = ${MASK_FRAMES};
    q('.alref-mo-play').click();
    const seen = [Number(root.dataset.frame)];
    const t0 = performance.now();
    for (let k = 0; k < 120; k++) { await frames(1); seen.push(Number(root.dataset.frame)); }
    const elapsed = performance.now() - t0;
    q('.alref-mo-play').click();
    let advanced = 0, drawn = 0;
    for (let k = 1; k < seen.length; k++) { const d = (seen[k] - seen[k - 1] + n) % n; advanced += d; drawn += d > 0 ? 1 : 0; }
    return { fps: Number(root.dataset.fps), elapsed, advanced, drawn };`);
  const due = (play.fps * play.elapsed) / 1000;
  say(`mask viewer playback at ${play.fps} fps: ${play.advanced} frames advanced and ${play.drawn} drawn in ${play.elapsed.toFixed(0)} ms (${due.toFixed(1)} due by the clock; ${((1000 * play.drawn) / play.elapsed).toFixed(1)} drawn per second)`);
  if (play.fps !== MASK_FPS) {
    throw new Error(`the mask viewer plays at ${play.fps} fps, not the clip's ${MASK_FPS}`);
  }
  // Clock-driven: the position keeps up with the clock (the former player, waiting for each frame,
  // advanced about 11 of 30 a second). How many frames get drawn depends on how busy the machine is,
  // so it is printed above, not asserted; the slack covers a late first animation frame under load.
  if (play.advanced < 0.75 * due) {
    throw new Error(`mask viewer playback is behind the clip's rate: ${JSON.stringify(play)}`);
  }
}
