/**
 * The thread behind {@link FramePrepWorker}: prepares each requested frame with the same code as the
 * in-thread path ({@link prepareFrame}) and sends the values back as a transferred buffer; lays
 * encoder features out as tokens ({@link featuresToTokens}) and sends both buffers back; finishes a
 * tracked frame's mask ({@link finishMask}: hole filling, the mask at video size, its RLE). Buffers
 * the caller hands back ({@link FramePrepWorker.recycle}) are written again for later frames of the
 * same size, so a long run does not allocate (and zero) a new 12 MB array per frame.
 * Bundled as dist/framePrepWorker.js (esbuild.mjs).
 */
import { parentPort } from 'node:worker_threads';
import { PipelineError } from '../../errors';
import { MAX_RECYCLED_FRAMES, prepareFrame, type FramePrepMessage, type FramePrepRequestMessage } from './framePrep';
import { finishMask } from './maskOps';
import { featuresToTokens } from './tokens';

const port = parentPort;
if (!port) {
  throw new Error('framePrep.worker runs as a worker thread only');
}
const recycled: Float32Array[] = [];

/** A handed-back buffer of exactly this many values (one of another size is dropped: the model changed). */
function reuse(values: number): Float32Array | undefined {
  const k = recycled.findIndex((b) => b.length === values);
  if (k < 0) {
    recycled.length = 0;
    return undefined;
  }
  return recycled.splice(k, 1)[0];
}

function fail(id: number, err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  const error = err instanceof PipelineError ? { message, stage: err.stage, kind: err.kind, file: err.file } : { message };
  port?.postMessage({ id, error } satisfies FramePrepMessage);
}

port.on('message', (m: FramePrepRequestMessage) => {
  if ('recycle' in m) {
    if (recycled.length < MAX_RECYCLED_FRAMES) {
      recycled.push(m.recycle);
    }
    return;
  }
  if ('transpose' in m) {
    const { features, c, hw, out } = m.transpose;
    try {
      const tokens = featuresToTokens(features, c, hw, out);
      port.postMessage({ id: m.id, tokens, features } satisfies FramePrepMessage, [tokens.buffer as ArrayBuffer, features.buffer as ArrayBuffer]);
    } catch (err) {
      fail(m.id, err);
    }
    return;
  }
  if ('finish' in m) {
    const r = m.finish;
    try {
      const done = finishMask(r.logits, r.width, r.height, r.fillHoleArea, r.present, r.videoWidth, r.videoHeight);
      port.postMessage({ id: m.id, ...done } satisfies FramePrepMessage, [done.logits.buffer as ArrayBuffer, done.mask.buffer as ArrayBuffer]);
    } catch (err) {
      fail(m.id, err);
    }
    return;
  }
  prepareFrame(m.req, reuse(3 * m.req.width * m.req.height)).then(
    (pixels) => port.postMessage({ id: m.id, pixels } satisfies FramePrepMessage, [pixels.buffer as ArrayBuffer]),
    (err: unknown) => fail(m.id, err),
  );
});
