import assert from 'node:assert/strict';
import path from 'node:path';
import sharp from 'sharp';
import { badgeHeight, blendLayer, composeFilmstrip, composeGrid, composeGrids, decodeForTile, gridLayout, jpegShrinkFor, sparseLayer, type GridFrame } from '../../../../src/pipeline/draw/grid';
import { badgeSvg, svgDocument } from '../../../../src/pipeline/draw/text';
import { pilResizeRgb } from '../../../tooling/pilResizeReference';
import { tempDir, type TempDir } from '../../../tooling/media';

/** Solid-colour frames, each a different colour, saved as JPEG like decoded frames. */
async function solidFrames(dir: string, n: number, width: number, height: number): Promise<{ frames: GridFrame[]; colors: number[][] }> {
  const frames: GridFrame[] = [];
  const colors: number[][] = [];
  for (let i = 0; i < n; i++) {
    const c = [(i * 53) % 256, (80 + i * 97) % 256, (200 + i * 31) % 256];
    const file = path.join(dir, `${String(i).padStart(5, '0')}.jpg`);
    await sharp({ create: { width, height, channels: 3, background: { r: c[0], g: c[1], b: c[2] } } }).jpeg({ quality: 95 }).toFile(file);
    frames.push({ path: file, frameIndex: i * 5, timeSec: i * 0.2 });
    colors.push(c);
  }
  return { frames, colors };
}

async function pixel(img: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(img).raw().toBuffer({ resolveWithObject: true });
  const o = (Math.round(y) * info.width + Math.round(x)) * info.channels;
  return [data[o], data[o + 1], data[o + 2]];
}

function near(a: number[], b: number[], tol = 12): boolean {
  return a.every((v, i) => Math.abs(v - b[i]) <= tol);
}

suite('draw/grid: layout', () => {
  test('5 frames of 1280x720 in one row, long side bounded by 2048 with 4 px gaps', () => {
    const l = gridLayout(1280, 720, 5);
    assert.equal(l.columns, 5);
    assert.equal(l.rows, 1);
    assert.ok(l.width <= 2048);
    assert.equal(l.width, 5 * l.tileWidth + 4 * 4);
    assert.equal(l.tileWidth, Math.floor(1280 * ((2048 - 16) / (5 * 1280))));
    assert.ok(Math.abs(l.tileWidth / l.tileHeight - 1280 / 720) < 0.01);
    assert.deepEqual(l.cells.map((c) => c.x), [0, 1, 2, 3, 4].map((i) => i * (l.tileWidth + 4)));
    assert.ok(l.cells.every((c) => c.y === 0));
  });

  test('10 frames (AVSS) in two rows of 5, reading order', () => {
    const l = gridLayout(854, 480, 10);
    assert.equal(l.rows, 2);
    assert.deepEqual(l.cells[5], { x: 0, y: l.tileHeight + 4, width: l.tileWidth, height: l.tileHeight });
    assert.equal(l.cells[9].x, 4 * (l.tileWidth + 4));
    assert.equal(l.height, 2 * l.tileHeight + 4);
  });

  test('small frames are never upscaled; a custom bound applies', () => {
    const l = gridLayout(64, 48, 5);
    assert.equal(l.tileWidth, 64);
    assert.equal(l.width, 5 * 64 + 16);
    const m = gridLayout(1920, 1080, 5, { maxSide: 1024 });
    assert.ok(m.width <= 1024);
  });

  test('portrait frames: the long side may be the height', () => {
    const l = gridLayout(480, 8000, 5, { maxSide: 2048 });
    assert.ok(l.height <= 2048 && l.width <= 2048);
  });
});

suite('draw/grid: composed images', () => {
  let tmp: TempDir;
  setup(() => {
    tmp = tempDir();
  });
  teardown(() => tmp.remove());

  test('each tile shows its frame and a red id badge at its top-left corner', async () => {
    const { frames, colors } = await solidFrames(tmp.path, 5, 320, 180);
    const g = await composeGrid(frames, 320, 180);
    const meta = await sharp(g.data).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.width, g.width);
    assert.equal(meta.height, g.height);
    assert.equal(g.tiles.length, 5);
    for (let i = 0; i < 5; i++) {
      const t = g.tiles[i];
      assert.equal(t.frameId, i + 1);
      assert.equal(t.frameIndex, i * 5);
      assert.equal(t.timeSec, i * 0.2);
      // Tile centre: the frame's colour.
      assert.ok(near(await pixel(g.data, t.x + t.width * 0.6, t.y + t.height * 0.6), colors[i]), `tile ${i} colour`);
      // Badge corner: the badge's red fill.
      const bh = badgeHeight(t.height);
      const pad = Math.max(2, Math.round(bh * 0.25));
      assert.ok(near(await pixel(g.data, t.x + pad + 2, t.y + pad + bh / 2), [0xd7, 0x26, 0x3d], 40), `tile ${i} badge`);
    }
  });

  test('ids differ between tiles (the badge text is drawn)', async () => {
    const { frames } = await solidFrames(tmp.path, 2, 320, 180);
    const same = [frames[0], { ...frames[0], frameIndex: 99 }];
    const g = await composeGrid(same, 320, 180);
    const { data, info } = await sharp(g.data).raw().toBuffer({ resolveWithObject: true });
    const bh = badgeHeight(g.tiles[0].height);
    let diff = 0;
    for (let y = 0; y < bh + 8; y++) {
      for (let x = 0; x < bh * 2; x++) {
        const a = (y * info.width + x) * 3;
        const b = (y * info.width + x + g.tiles[1].x) * 3;
        diff += Math.abs(data[a] - data[b]) > 60 ? 1 : 0;
      }
    }
    assert.ok(diff > 5, `badges "1" and "2" look identical (${diff})`);
  });

  test('odd frame sizes (853x480) compose without distortion', async () => {
    const { frames } = await solidFrames(tmp.path, 3, 853, 480);
    const g = await composeGrid(frames, 853, 480);
    assert.ok(Math.abs(g.tiles[0].width / g.tiles[0].height - 853 / 480) < 0.01);
    assert.ok(g.width <= 2048);
  });

  test('filmstrip: one row of thumbnails with labels underneath, within the width bound', async () => {
    const { frames, colors } = await solidFrames(tmp.path, 12, 320, 180);
    const s = await composeFilmstrip(frames, 320, 180, { maxWidth: 1200 });
    assert.ok(s.width <= 1200);
    assert.equal(s.tiles.length, 12);
    assert.ok(s.tiles.every((t) => t.y === s.tiles[0].y && t.height === s.tiles[0].height));
    assert.ok(s.height > s.tiles[0].y + s.tiles[0].height + 20, 'room for labels');
    for (let i = 1; i < 12; i++) {
      assert.ok(s.tiles[i].x >= s.tiles[i - 1].x + s.tiles[i - 1].width);
    }
    const t = s.tiles[3];
    assert.ok(near(await pixel(s.data, t.x + t.width / 2, t.y + t.height / 2), colors[3]));
    // Label area holds light text pixels.
    const { data, info } = await sharp(s.data).greyscale().raw().toBuffer({ resolveWithObject: true });
    let lit = 0;
    for (let y = t.y + t.height + 2; y < info.height; y++) {
      for (let x = t.x - 5; x < t.x + t.width + 5; x++) {
        lit += data[y * info.width + x] > 128 ? 1 : 0;
      }
    }
    assert.ok(lit > 20, `no label pixels (${lit})`);
  });
});

suite('draw/grid: badge layer blending', () => {
  test('blending the visible pixels of a badge layer gives exactly what a libvips composite of the whole layer gives', async () => {
    const [w, h] = [300, 90];
    let svg = '';
    for (let i = 0; i < 4; i++) {
      svg += badgeSvg(String(i + 7), 5 + i * 70, 6 + i * 3, { height: 20 + i * 6, color: '#ffffff', background: '#d7263d', border: '#ffffff' }).svg;
    }
    const layer = await sharp(Buffer.from(svgDocument(w, h, svg))).ensureAlpha().raw().toBuffer();
    const canvas = Buffer.alloc(w * h * 3);
    for (let i = 0; i < canvas.length; i++) {
      canvas[i] = (i * 7919 + (i >> 5)) & 255;
    }
    const ref = await sharp(canvas, { raw: { width: w, height: h, channels: 3 } })
      .composite([{ input: layer, raw: { width: w, height: h, channels: 4 } }])
      .removeAlpha()
      .raw()
      .toBuffer();
    const sparse = sparseLayer(layer);
    // the badges have anti-aliased edges (partly transparent pixels) and opaque insides
    const alphas = new Set(Array.from(sparse.rgba.filter((_, i) => i % 4 === 3)));
    assert.ok(alphas.has(255) && alphas.size > 10, `alphas: ${[...alphas].slice(0, 5).join(',')}`);
    assert.ok(sparse.pixels.length < (w * h) / 2);
    const mine = Buffer.from(canvas);
    blendLayer(mine, sparse);
    assert.ok(!mine.equals(canvas));
    assert.ok(mine.equals(ref));
  });
});

/** Textured frames (gradients and a checker, so that a resize shows), saved as JPEG q90. */
async function texturedFrames(dir: string, n: number, width: number, height: number): Promise<GridFrame[]> {
  const frames: GridFrame[] = [];
  for (let i = 0; i < n; i++) {
    const rgb = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const o = (y * width + x) * 3;
        const check = ((x >> 3) + (y >> 3) + i) & 1 ? 60 : 0;
        rgb[o] = (x * 255) / width;
        rgb[o + 1] = ((y * 255) / height + check) & 255;
        rgb[o + 2] = (i * 40 + check * 2) & 255;
      }
    }
    const file = path.join(dir, `t${String(i).padStart(5, '0')}.jpg`);
    await sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toFile(file);
    frames.push({ path: file, frameIndex: i, timeSec: i / 10 });
  }
  return frames;
}

suite('draw/grid: tile decoding', () => {
  let tmp: TempDir;
  setup(() => {
    tmp = tempDir();
  });
  teardown(() => tmp.remove());

  test('DCT scale: the largest of 8, 4, 2 that still decodes to at least the tile size (libjpeg rounds up)', () => {
    assert.equal(jpegShrinkFor(854, 480, 406, 228), 2);
    assert.equal(jpegShrinkFor(1920, 1080, 406, 228), 4);
    assert.equal(jpegShrinkFor(3840, 2160, 406, 228), 8);
    assert.equal(jpegShrinkFor(853, 455, 406, 228), 2, '455 / 2 decodes to 228 rows (rounded up): enough');
    assert.equal(jpegShrinkFor(853, 454, 406, 228), 1, '454 / 2 is 227 rows: one short');
    assert.equal(jpegShrinkFor(64, 48, 64, 48), 1);
  });

  test('a JPEG frame is decoded at its DCT scale; a PNG, and a PNG named .jpg, in full; a missing file is named', async () => {
    const [jpg] = await texturedFrames(tmp.path, 1, 854, 480);
    const half = await decodeForTile(jpg.path, 854, 480, 406, 228);
    assert.deepEqual([half.width, half.height, half.data.length], [427, 240, 427 * 240 * 3], 'libvips took the shrink load option');
    const full = await decodeForTile(jpg.path, 854, 480, 600, 300);
    assert.deepEqual([full.width, full.height], [854, 480]);
    const png = path.join(tmp.path, 'frame.png');
    await sharp(jpg.path).png().toFile(png);
    assert.deepEqual(await decodeForTile(png, 854, 480, 406, 228).then((d) => [d.width, d.height]), [854, 480]);
    const fake = path.join(tmp.path, 'png-inside.jpg');
    await sharp(jpg.path).png().toFile(fake);
    assert.deepEqual(await decodeForTile(fake, 854, 480, 406, 228).then((d) => [d.width, d.height, d.data.length]), [854, 480, 854 * 480 * 3]);
    // listed as 1920x1080 but only 854x480: decoded in full rather than enlarged from 1/4 scale
    assert.deepEqual(await decodeForTile(jpg.path, 1920, 1080, 406, 228).then((d) => [d.width, d.height]), [854, 480]);
    const grey = path.join(tmp.path, 'grey.jpg');
    await sharp(jpg.path).greyscale().jpeg().toFile(grey);
    assert.equal(await decodeForTile(grey, 854, 480, 406, 228).then((d) => d.data.length / (d.width * d.height)), 3, 'greyscale comes back as RGB');
    const missing = path.join(tmp.path, 'gone.jpg');
    await assert.rejects(decodeForTile(missing, 854, 480, 406, 228), (e: Error) => e.message.includes(missing) && !e.message.includes('[shrink'));
  });

  test('the grid is exactly: background, each DCT-scaled frame resized as Pillow does at its cell, the badges blended, one JPEG q90', async () => {
    const frames = await texturedFrames(tmp.path, 5, 854, 480);
    const g = await composeGrid(frames, 854, 480);
    const layout = gridLayout(854, 480, 5);
    const canvas = Buffer.alloc(layout.width * layout.height * 3, 255);
    for (let i = 0; i < 5; i++) {
      const cell = layout.cells[i];
      const { data, info } = await sharp(`${frames[i].path}[shrink=2]`).raw().toBuffer({ resolveWithObject: true });
      const tile = pilResizeRgb(data, info.width, info.height, cell.width, cell.height);
      for (let y = 0; y < cell.height; y++) {
        canvas.set(tile.subarray(y * cell.width * 3, (y + 1) * cell.width * 3), ((cell.y + y) * layout.width + cell.x) * 3);
      }
    }
    const bh = badgeHeight(layout.tileHeight);
    const pad = Math.max(2, Math.round(bh * 0.25));
    const svg = layout.cells.map((c, i) => badgeSvg(String(i + 1), c.x + pad, c.y + pad, { height: bh, color: '#ffffff', background: '#d7263d', border: '#ffffff' }).svg).join('');
    blendLayer(canvas, sparseLayer(await sharp(Buffer.from(svgDocument(layout.width, layout.height, svg))).ensureAlpha().raw().toBuffer()));
    const want = await sharp(canvas, { raw: { width: layout.width, height: layout.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    assert.deepEqual([g.width, g.height], [layout.width, layout.height]);
    assert.ok(g.data.equals(want), 'the grid JPEG differs from the reference composition');
  });

  test('grids composed concurrently do not mix their tiles (the resize reuses one module memory per thread)', async () => {
    const a = await texturedFrames(tmp.path, 5, 854, 480);
    const b = a.slice().reverse();
    const alone = [await composeGrid(a, 854, 480), await composeGrid(b, 854, 480)];
    const together = await Promise.all([composeGrid(a, 854, 480), composeGrid(b, 854, 480), composeGrid(a, 854, 480)]);
    assert.ok(together[0].data.equals(alone[0].data) && together[2].data.equals(alone[0].data));
    assert.ok(together[1].data.equals(alone[1].data));
  });

  test('composeGrids: the grids of composeGrid, in order; a failing grid rejects at its turn, after the ones before it; a consumer may stop early', async () => {
    const frames = await texturedFrames(tmp.path, 6, 320, 180);
    const groups = [frames.slice(0, 5), frames.slice(1, 6), frames.slice(0, 3)];
    const want = await Promise.all(groups.map((g) => composeGrid(g, 320, 180)));
    const got: Buffer[] = [];
    for await (const img of composeGrids(groups, 320, 180)) {
      got.push(img.data);
    }
    assert.equal(got.length, 3);
    got.forEach((d, i) => assert.ok(d.equals(want[i].data), `grid ${i}`));

    const broken = [groups[0], [{ ...frames[0], path: path.join(tmp.path, 'missing.jpg') }], groups[1]];
    const seen: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const img of composeGrids(broken, 320, 180)) {
          seen.push(img.width);
        }
      })(),
      (e: Error) => e.message.includes('missing.jpg'),
    );
    assert.equal(seen.length, 1);

    // a consumer that stops after the first grid: nothing is left unhandled
    for await (const img of composeGrids(broken, 320, 180)) {
      assert.ok(img.data.length > 0);
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  });
});
