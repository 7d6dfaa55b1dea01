/**
 * The thread behind {@link FramePrepWorker}: prepares each requested frame with the same code as the
 * in-thread path ({@link prepareFrame}) and sends the values back as a transferred buffer.
 * Bundled as dist/framePrepWorker.js (esbuild.mjs).
 */
import { parentPort } from 'node:worker_threads';
import { PipelineError } from '../../errors';
import { prepareFrame, type FramePrepMessage, type FramePrepRequest } from './framePrep';

const port = parentPort;
if (!port) {
  throw new Error('framePrep.worker runs as a worker thread only');
}
port.on('message', (m: { id: number; req: FramePrepRequest }) => {
  prepareFrame(m.req).then(
    (pixels) => port.postMessage({ id: m.id, pixels } satisfies FramePrepMessage, [pixels.buffer as ArrayBuffer]),
    (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      const error = err instanceof PipelineError ? { message, stage: err.stage, kind: err.kind, file: err.file } : { message };
      port.postMessage({ id: m.id, error } satisfies FramePrepMessage);
    },
  );
});

