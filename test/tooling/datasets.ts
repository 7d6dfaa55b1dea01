/**
 * Tiny synthetic benchmark folders in the real layouts (see src/pipeline/benchmarks/datasets.ts), with
 * ground truth and, optionally, predictions in the layout `alref score` reads. Objects are boxes that
 * move a little every frame; predictions are the same boxes shifted, so scores are neither 0 nor 1.
 * Everything is deterministic in the options.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { encodeRle } from '../../src/pipeline/masks/rle';
import { avssPalette, encodeBinaryPng, encodeIndexedPng, encodeRgbPng } from '../../src/pipeline/masks/labelPng';

export interface SyntheticOptions {
  videos?: number;
  frames?: number;
  width?: number;
  height?: number;
  /** Objects per video (RVOS). */
  objects?: number;
  /** Also write predictions under `<root>/pred` (default true). */
  predictions?: boolean;
  /** Prediction frames to leave out, as `<video>:<frame index>` keys. */
  dropPrediction?: string[];
  /**
   * MeViS only: frames show the ground-truth objects as white boxes on black (a frame where an object
   * has left shows nothing of it), so a tracker has something to follow. Default: uniform frames.
   */
  drawObjects?: boolean;
}

interface Resolved { videos: number; frames: number; width: number; height: number; objects: number; predictions: boolean; drop: Set<string>; drawObjects: boolean }

function resolve(o: SyntheticOptions): Resolved {
  return {
    videos: o.videos ?? 2, frames: o.frames ?? 6, width: o.width ?? 40, height: o.height ?? 30, objects: o.objects ?? 2,
    predictions: o.predictions ?? true, drop: new Set(o.dropPrediction ?? []), drawObjects: o.drawObjects ?? false,
  };
}

/** Box of object `obj` of video `v` at frame t (inclusive-exclusive pixel bounds). */
export function objectBox(v: number, obj: number, t: number, w: number, h: number, shift = 0): { x0: number; y0: number; x1: number; y1: number } {
  const bw = Math.max(3, Math.floor(w / 4));
  const bh = Math.max(3, Math.floor(h / 4));
  const x0 = Math.min(w - bw, ((v * 7 + obj * 11 + t * 2 + shift) % Math.max(1, w - bw)));
  const y0 = Math.min(h - bh, ((v * 5 + obj * 9 + t + shift) % Math.max(1, h - bh)));
  return { x0, y0, x1: x0 + bw, y1: y0 + bh };
}

function paint(labels: Uint8Array, w: number, b: { x0: number; y0: number; x1: number; y1: number }, value: number): void {
  for (let y = b.y0; y < b.y1; y++) {
    for (let x = b.x0; x < b.x1; x++) {
      labels[y * w + x] = value;
    }
  }
}

async function writeBytes(file: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
}

const jpegCache = new Map<string, Buffer>();
async function jpeg(w: number, h: number): Promise<Buffer> {
  const key = `${w}x${h}`;
  let bytes = jpegCache.get(key);
  if (!bytes) {
    bytes = await sharp({ create: { width: w, height: h, channels: 3, background: { r: 90, g: 120, b: 150 } } }).jpeg().toBuffer();
    jpegCache.set(key, bytes);
  }
  return bytes;
}

/** A JPEG frame: white where `labels` is set, black elsewhere. */
async function objectsJpeg(labels: Uint8Array, w: number, h: number): Promise<Buffer> {
  const px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]) {
      px.fill(255, i * 3, i * 3 + 3);
    }
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
}

/** A 0.1 s mono 16 kHz PCM WAV. */
export function tinyWav(): Uint8Array {
  const samples = 1600;
  const buf = Buffer.alloc(44 + samples * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + samples * 2, 4);
  buf.write('WAVE', 8);
  buf.write('fmt ', 12);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(16000, 24);
  buf.writeUInt32LE(32000, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) {
    buf.writeInt16LE(Math.round(3000 * Math.sin((2 * Math.PI * 440 * i) / 16000)), 44 + i * 2);
  }
  return buf;
}

const frameName = (t: number): string => String(t).padStart(5, '0');
const videoName = (v: number): string => `vid${v}`;

/** Ref-YouTube-VOS: `train` split with Annotations (so it can be scored locally), one expression per object. */
export async function makeYtvos(root: string, options: SyntheticOptions = {}, split = 'train'): Promise<string> {
  const o = resolve(options);
  const videos: Record<string, unknown> = {};
  for (let v = 0; v < o.videos; v++) {
    const video = videoName(v);
    const frames = Array.from({ length: o.frames }, (_, t) => frameName(t));
    const expressions: Record<string, unknown> = {};
    for (let k = 0; k < o.objects; k++) {
      expressions[String(k)] = { exp: `the object number ${k + 1} in ${video}`, obj_id: String(k + 1) };
    }
    videos[video] = { expressions, frames };
    for (let t = 0; t < o.frames; t++) {
      await writeBytes(path.join(root, split, 'JPEGImages', video, `${frameName(t)}.jpg`), await jpeg(o.width, o.height));
      const labels = new Uint8Array(o.width * o.height);
      for (let k = 0; k < o.objects; k++) {
        paint(labels, o.width, objectBox(v, k, t, o.width, o.height), k + 1);
      }
      await writeBytes(path.join(root, split, 'Annotations', video, `${frameName(t)}.png`), encodeIndexedPng(labels, o.width, o.height));
      if (o.predictions) {
        for (let k = 0; k < o.objects; k++) {
          if (o.drop.has(`${video}:${t}`)) {
            continue;
          }
          const m = new Uint8Array(o.width * o.height);
          paint(m, o.width, objectBox(v, k, t, o.width, o.height, 1 + (t % 2)), 1);
          await writeBytes(path.join(root, 'pred', video, String(k), `${frameName(t)}.png`), encodeBinaryPng(m, o.width, o.height));
        }
      }
    }
  }
  await writeBytes(path.join(root, 'meta_expressions', split, 'meta_expressions.json'), JSON.stringify({ videos }));
  return root;
}

/** Ref-DAVIS17 in the ReferFormer layout (`valid`), or the raw release layout. 4 expressions per object. */
export async function makeRefDavis(root: string, options: SyntheticOptions = {}, layout: 'referformer' | 'raw' = 'referformer'): Promise<string> {
  const o = resolve(options);
  const videos: Record<string, unknown> = {};
  const rawLines: string[][] = [[], [], [], []];
  for (let v = 0; v < o.videos; v++) {
    const video = videoName(v);
    const expressions: Record<string, unknown> = {};
    let e = 0;
    for (let k = 0; k < o.objects; k++) {
      for (let a = 0; a < 4; a++) {
        const text = `object ${k + 1} of ${video} said by annotator set ${a}`;
        expressions[String(e)] = { exp: text, obj_id: String(k + 1) };
        rawLines[a].push(`${video} ${k + 1} "${text}"`);
        if (o.predictions) {
          for (let t = 0; t < o.frames; t++) {
            if (o.drop.has(`${video}:${t}`)) {
              continue;
            }
            const m = new Uint8Array(o.width * o.height);
            paint(m, o.width, objectBox(v, k, t, o.width, o.height, a % 3), 1);
            await writeBytes(path.join(root, 'pred', video, String(e), `${frameName(t)}.png`), encodeBinaryPng(m, o.width, o.height));
          }
        }
        e++;
      }
    }
    videos[video] = { expressions, frames: Array.from({ length: o.frames }, (_, t) => frameName(t)) };
    const imgDir = layout === 'referformer' ? path.join(root, 'valid', 'JPEGImages', video) : path.join(root, 'DAVIS', 'JPEGImages', '480p', video);
    const gtDir = layout === 'referformer' ? path.join(root, 'valid', 'Annotations', video) : path.join(root, 'DAVIS', 'Annotations_unsupervised', '480p', video);
    for (let t = 0; t < o.frames; t++) {
      await writeBytes(path.join(imgDir, `${frameName(t)}.jpg`), await jpeg(o.width, o.height));
      const labels = new Uint8Array(o.width * o.height);
      for (let k = 0; k < o.objects; k++) {
        paint(labels, o.width, objectBox(v, k, t, o.width, o.height), k + 1);
      }
      // a void band on the left edge, as DAVIS has around ambiguous regions
      for (let y = 0; y < o.height; y++) {
        labels[y * o.width] = 255;
      }
      await writeBytes(path.join(gtDir, `${frameName(t)}.png`), encodeIndexedPng(labels, o.width, o.height));
    }
  }
  if (layout === 'referformer') {
    await writeBytes(path.join(root, 'meta_expressions', 'valid', 'meta_expressions.json'), JSON.stringify({ videos }));
  } else {
    const names = ['Davis17_annot1.txt', 'Davis17_annot1_full_video.txt', 'Davis17_annot2.txt', 'Davis17_annot2_full_video.txt'];
    for (let a = 0; a < 4; a++) {
      await writeBytes(path.join(root, 'davis_text_annotations', names[a]), `${rawLines[a].join('\n')}\n`);
    }
    await writeBytes(path.join(root, 'DAVIS', 'ImageSets', '2017', 'val.txt'), `${Object.keys(videos).join('\n')}\n`);
  }
  return root;
}

/** MeViS (`valid_u`), videos and expressions as objects (`layout: 'object'`) or arrays (`'array'`). */
export async function makeMevis(root: string, options: SyntheticOptions = {}, layout: 'object' | 'array' = 'object', split = 'valid_u'): Promise<string> {
  const o = resolve(options);
  const maskDict: Record<string, unknown[]> = {};
  const videoList: Array<{ video_id: string; frames: string[]; expressions: unknown[] }> = [];
  let anno = 0;
  for (let v = 0; v < o.videos; v++) {
    const video = videoName(v);
    const frames = Array.from({ length: o.frames }, (_, t) => frameName(t));
    const annoIds: string[] = [];
    const shown = frames.map(() => new Uint8Array(o.width * o.height));
    for (let k = 0; k < o.objects; k++) {
      const id = String(anno++);
      annoIds.push(id);
      maskDict[id] = frames.map((_, t) => {
        if (t === o.frames - 1 && k === 0) {
          return null; // object 0 leaves the video in the last frame
        }
        const m = new Uint8Array(o.width * o.height);
        paint(m, o.width, objectBox(v, k, t, o.width, o.height), 1);
        paint(shown[t], o.width, objectBox(v, k, t, o.width, o.height), 1);
        return encodeRle(m, o.width, o.height);
      });
    }
    // expression 0: object 0; expression 1: both objects (union)
    const exps = [
      { exp: `the first thing in ${video}`, obj_id: [0], anno_id: [annoIds[0]] },
      { exp: `all things in ${video}`, obj_id: annoIds.map((_, i) => i), anno_id: annoIds },
    ];
    videoList.push({ video_id: video, frames, expressions: exps.map((e, i) => ({ ...e, exp_id: String(i) })) });
    for (let t = 0; t < o.frames; t++) {
      await writeBytes(path.join(root, split, 'JPEGImages', video, `${frameName(t)}.jpg`), o.drawObjects ? await objectsJpeg(shown[t], o.width, o.height) : await jpeg(o.width, o.height));
      if (o.predictions && !o.drop.has(`${video}:${t}`)) {
        for (const [i, e] of exps.entries()) {
          const m = new Uint8Array(o.width * o.height);
          for (const k of e.obj_id) {
            paint(m, o.width, objectBox(v, k, t, o.width, o.height, 1 + i), 1);
          }
          await writeBytes(path.join(root, 'pred', video, String(i), `${frameName(t)}.png`), encodeBinaryPng(m, o.width, o.height));
        }
      }
    }
  }
  const meta = layout === 'array'
    ? { videos: videoList }
    : { videos: Object.fromEntries(videoList.map((v) => [v.video_id, { frames: v.frames, expressions: Object.fromEntries(v.expressions.map((e, i) => [String(i), e])) }])) };
  await writeBytes(path.join(root, split, 'meta_expressions.json'), JSON.stringify(meta));
  await writeBytes(path.join(root, split, 'mask_dict.json'), JSON.stringify(maskDict));
  return root;
}

async function avsVideoFrames(dir: string, names: string[], w: number, h: number): Promise<void> {
  const png = await sharp({ create: { width: w, height: h, channels: 3, background: { r: 50, g: 60, b: 70 } } }).png().toBuffer();
  for (const n of names) {
    await writeBytes(path.join(dir, n), png);
  }
}

/** AVSBench S4 (`Single-source/...`), test split, 5 annotated frames per video. */
export async function makeS4(root: string, options: SyntheticOptions = {}): Promise<string> {
  const o = resolve({ width: 32, height: 32, ...options });
  const base = path.join(root, 'Single-source');
  const rows = ['name,a_obj,category,split'];
  for (let v = 0; v < o.videos; v++) {
    const name = `s4vid${v}`;
    const category = v % 2 === 0 ? 'dog' : 'car';
    rows.push(`${name},${category},${category},test`);
    const data = path.join(base, 's4_data');
    await avsVideoFrames(path.join(data, 'visual_frames', 'test', category, name), [1, 2, 3, 4, 5].map((k) => `${name}_${k}.png`), o.width, o.height);
    await writeBytes(path.join(data, 'audio_wav', 'test', category, `${name}.wav`), tinyWav());
    for (let k = 1; k <= 5; k++) {
      const gt = new Uint8Array(o.width * o.height);
      if (!(v === 1 && k === 5)) {
        paint(gt, o.width, objectBox(v, 0, k, o.width, o.height), 1);
      }
      await writeBytes(path.join(data, 'gt_masks', 'test', category, name, `${name}_${k}.png`), encodeBinaryPng(gt, o.width, o.height));
      if (o.predictions && !o.drop.has(`${name}:${k}`)) {
        const p = new Uint8Array(o.width * o.height);
        paint(p, o.width, objectBox(v, 0, k, o.width, o.height, 2), 1);
        await writeBytes(path.join(root, 'pred', name, `${name}_${k}.png`), encodeBinaryPng(p, o.width, o.height));
      }
    }
  }
  await writeBytes(path.join(base, 's4_meta_data.csv'), `${rows.join('\n')}\n`);
  return root;
}

/** AVSBench MS3 (`Multi-sources/...`), test split. */
export async function makeMs3(root: string, options: SyntheticOptions = {}): Promise<string> {
  const o = resolve({ width: 32, height: 32, ...options });
  const base = path.join(root, 'Multi-sources');
  const rows = ['video_id,split'];
  for (let v = 0; v < o.videos; v++) {
    const name = `ms3vid${v}`;
    rows.push(`${name},test`);
    const data = path.join(base, 'ms3_data');
    await avsVideoFrames(path.join(data, 'visual_frames', name), [1, 2, 3, 4, 5].map((k) => `${name}.mp4_${k}.png`), o.width, o.height);
    await writeBytes(path.join(data, 'audio_wav', 'test', `${name}.wav`), tinyWav());
    for (let k = 1; k <= 5; k++) {
      const gt = new Uint8Array(o.width * o.height);
      paint(gt, o.width, objectBox(v, 0, k, o.width, o.height), 1);
      paint(gt, o.width, objectBox(v, 1, k, o.width, o.height), 1);
      await writeBytes(path.join(data, 'gt_masks', 'test', name, `${name}_${k}.png`), encodeBinaryPng(gt, o.width, o.height));
      if (o.predictions && !o.drop.has(`${name}:${k}`)) {
        const p = new Uint8Array(o.width * o.height);
        paint(p, o.width, objectBox(v, 0, k, o.width, o.height, 1), 1);
        await writeBytes(path.join(root, 'pred', name, `${name}_${k}.png`), encodeBinaryPng(p, o.width, o.height));
      }
    }
  }
  await writeBytes(path.join(base, 'ms3_meta_data.csv'), `${rows.join('\n')}\n`);
  return root;
}

/** AVSBench-semantic (`metadata.csv`, v1s/v1m/v2 subsets), test split, colour labels; predictions colour-coded too. */
export async function makeAvss(root: string, options: SyntheticOptions = {}): Promise<string> {
  const o = resolve({ width: 48, height: 36, ...options });
  const palette = avssPalette();
  const rows = ['vid,uid,s_min,s_max,a_obj,split,label'];
  const labels = ['v1s', 'v1m', 'v2'];
  for (let v = 0; v < o.videos; v++) {
    const uid = `avssvid${v}`;
    const label = labels[v % 3];
    rows.push(`${uid},${uid},0,10,thing,test,${label}`);
    const dir = path.join(root, label, uid);
    const n = label === 'v2' ? 10 : 5;
    for (let k = 0; k < n; k++) {
      await writeBytes(path.join(dir, 'frames', `${k}.jpg`), await jpeg(o.width, o.height));
      const gt = new Uint8Array(o.width * o.height);
      paint(gt, o.width, objectBox(v, 0, k, o.width, o.height), 1 + (v % 70));
      paint(gt, o.width, objectBox(v, 1, k, o.width, o.height), 1 + ((v + 5) % 70));
      await writeBytes(path.join(dir, 'labels_rgb', `${k}.png`), colourPng(gt, o.width, o.height, palette));
      if (o.predictions && !o.drop.has(`${uid}:${k}`)) {
        const p = new Uint8Array(o.width * o.height);
        paint(p, o.width, objectBox(v, 0, k, o.width, o.height, 1), 1 + (v % 70));
        await writeBytes(path.join(root, 'pred', uid, `${k}.png`), colourPng(p, o.width, o.height, palette));
      }
    }
    await writeBytes(path.join(dir, 'audio.wav'), tinyWav());
  }
  await writeBytes(path.join(root, 'metadata.csv'), `${rows.join('\n')}\n`);
  // class list in the AVSBench-semantic form: background first, then the 70 categories
  const names = readFileSync(path.resolve(__dirname, '../../assets/audioset/avsbench-categories.txt'), 'utf8').split(/\r?\n/).filter(Boolean);
  await writeBytes(path.join(root, 'label2idx.json'), JSON.stringify(Object.fromEntries(['background', ...names].map((n, i) => [n, i]))));
  return root;
}

function colourPng(labels: Uint8Array, w: number, h: number, palette: number[][]): Uint8Array {
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < labels.length; i++) {
    const c = palette[labels[i]] ?? [0, 0, 0];
    rgb[i * 3] = c[0];
    rgb[i * 3 + 1] = c[1];
    rgb[i * 3 + 2] = c[2];
  }
  return encodeRgbPng(rgb, w, h);
}
