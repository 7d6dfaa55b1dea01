/**
 * Submission writers:
 * - Ref-YouTube-VOS: a zip whose top folder is `Annotations/`, holding
 *   `Annotations/<video>/<expression id>/<frame>.png` (8-bit, 0/255), one PNG per listed frame;
 * - MeViS: the same tree without the `Annotations/` level (`<video>/<expression id>/<frame>.png`), as the
 *   MeViS server expects the zipped prediction folder itself;
 * - Ref-DAVIS17: `anno_<set>/<video>/<frame>.png` indexed PNGs with the DAVIS palette, one label map per
 *   annotator set holding every expression's object id (the layout the DAVIS toolkit scores);
 * - AVS: binary PNGs (and AVSS colour labels) are written by the batch runner (`src/batch/runner.ts`)
 *   directly, with {@link writeFolderAtomic}.
 *
 * A frame without a prediction is written as an empty mask of the video's size (the server needs every
 * frame) and reported.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import yazl from 'yazl';
import sharp from 'sharp';
import { PipelineError } from '../errors';
import type { Dataset } from './datasets';
import { decodeLabelPng, encodeBinaryPng, encodeIndexedPng } from '../masks/labelPng';

/** Writes a folder of PNGs as a whole: into a temporary sibling, then renamed over the final folder. */
export async function writeFolderAtomic(dir: string, files: Array<{ name: string; bytes: Uint8Array }>): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await mkdir(tmp, { recursive: true });
  for (const f of files) {
    await writeFile(path.join(tmp, f.name), f.bytes);
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(path.dirname(dir), { recursive: true });
  await rename(tmp, dir);
}

async function frameSize(file: string): Promise<{ width: number; height: number }> {
  const meta = await sharp(file).metadata();
  return { width: meta.width ?? 0, height: meta.height ?? 0 };
}

/**
 * Writes the Ref-YouTube-VOS (`layout: 'ytvos'`) or MeViS (`layout: 'mevis'`) submission zip from a
 * prediction folder. Returns the number of PNGs and the warnings. The zip is written to a temporary
 * name and renamed when complete.
 */
export async function writeSubmissionZip(ds: Dataset, predDirs: string[], zipPath: string, layout: 'ytvos' | 'mevis' = ds.kind === 'mevis' ? 'mevis' : 'ytvos'): Promise<{ files: number; warnings: string[] }> {
  if (ds.kind !== 'ref-youtube-vos' && ds.kind !== 'mevis') {
    throw new PipelineError(`Submission zips are for Ref-YouTube-VOS and MeViS; ${ds.kind} is scored locally with \`alref score\`.`, {
      stage: 'evaluate', kind: 'invalid-input', field: 'dataset',
    });
  }
  const zip = new yazl.ZipFile();
  const warnings: string[] = [];
  const top = layout === 'ytvos' ? 'Annotations/' : '';
  let files = 0;
  const emptyCache = new Map<string, Buffer>();
  for (const item of ds.items) {
    let missingFrames = 0;
    for (const f of item.frames) {
      const found = predDirs.map((d) => path.join(d, item.video, item.expressionId ?? '0', `${f.name}.png`)).find((p) => existsSync(p));
      let bytes: Buffer;
      if (found) {
        // normalise to 0/255 grey whatever the source encoding was
        const img = decodeLabelPng(await readFile(found), found);
        bytes = Buffer.from(encodeBinaryPng(img.data, img.width, img.height));
      } else {
        missingFrames++;
        let empty = emptyCache.get(item.video);
        if (!empty) {
          const { width, height } = await frameSize(f.path);
          empty = Buffer.from(encodeBinaryPng(new Uint8Array(width * height), width, height));
          emptyCache.set(item.video, empty);
        }
        bytes = empty;
      }
      zip.addBuffer(bytes, `${top}${item.video}/${item.expressionId}/${f.name}.png`, { compress: true });
      files++;
    }
    if (missingFrames > 0) {
      warnings.push(`${item.id}: ${missingFrames} of ${item.frames.length} frames had no prediction; written as empty masks.`);
    }
  }
  await mkdir(path.dirname(path.resolve(zipPath)), { recursive: true });
  const tmp = `${zipPath}.${process.pid}.tmp`;
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(tmp);
    out.on('close', () => resolve());
    out.on('error', reject);
    zip.outputStream.on('error', reject);
    zip.outputStream.pipe(out);
    zip.end();
  });
  await rename(tmp, zipPath);
  return { files, warnings };
}

/**
 * Composes per-expression binary predictions of Ref-DAVIS17 into the official layout: one indexed
 * PNG per frame and annotator set, pixel = object id of the expression that covers it (lower object
 * ids win where expressions overlap).
 */
export async function writeDavisSets(ds: Dataset, predDir: string, outDir: string): Promise<{ files: number; warnings: string[] }> {
  if (ds.kind !== 'ref-davis17') {
    throw new PipelineError(`DAVIS annotator-set PNGs are for Ref-DAVIS17, not ${ds.kind}.`, { stage: 'evaluate', kind: 'invalid-input', field: 'dataset' });
  }
  const warnings: string[] = [];
  let files = 0;
  const groups = new Map<string, typeof ds.items>();
  for (const item of ds.items) {
    const key = `${item.annotatorSet ?? 0}/${item.video}`;
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  for (const [key, items] of groups) {
    const [set, video] = key.split('/');
    const frames = items[0].frames;
    const out: Array<{ name: string; bytes: Uint8Array }> = [];
    for (const f of frames) {
      let labels: Uint8Array | null = null;
      let width = 0;
      let height = 0;
      for (const item of [...items].sort((a, b) => (a.objectIds?.[0] ?? 0) - (b.objectIds?.[0] ?? 0))) {
        const file = path.join(predDir, item.video, item.expressionId ?? '', `${f.name}.png`);
        if (!existsSync(file)) {
          continue;
        }
        const img = decodeLabelPng(await readFile(file), file);
        if (!labels) {
          labels = new Uint8Array(img.width * img.height);
          width = img.width;
          height = img.height;
        }
        if (img.width !== width || img.height !== height) {
          warnings.push(`${file} is ${img.width}x${img.height}, other objects are ${width}x${height}; skipped.`);
          continue;
        }
        const id = item.objectIds?.[0] ?? 1;
        for (let i = 0; i < labels.length; i++) {
          if (img.data[i] !== 0 && labels[i] === 0) {
            labels[i] = id;
          }
        }
      }
      if (!labels) {
        const size = await frameSize(f.path);
        width = size.width;
        height = size.height;
        labels = new Uint8Array(width * height);
        warnings.push(`anno_${set}/${video}/${f.name}: no prediction of any object; written empty.`);
      }
      out.push({ name: `${f.name}.png`, bytes: encodeIndexedPng(labels, width, height) });
      files++;
    }
    await writeFolderAtomic(path.join(outDir, `anno_${set}`, video), out);
  }
  return { files, warnings };
}
