import { mkdir, readFile, rename, writeFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { sha256 } from './hash';

/**
 * The run folder sits next to a notebook (`demo.alref` -> `demo.alref.runs/`) and holds what is too
 * large for the notebook file: decoded frames, grids, masks, recorded LLM exchanges. Artifacts are
 * named by content hash so re-runs do not duplicate and a shared notebook plus its run folder
 * reproduces its outputs.
 */
export function runDirFor(notebookPath: string): string {
  return `${notebookPath}.runs`;
}

/** A stored artifact: path relative to the run folder, and the sha256 of its bytes. */
export interface ArtifactRef {
  ref: string;
  sha256: string;
}

/** Writes bytes under `artifacts/<2 hex>/<sha256><ext>` atomically; returns the reference. Idempotent. */
export async function putArtifact(runDir: string, bytes: Uint8Array, ext: string): Promise<ArtifactRef> {
  const hash = sha256(bytes);
  const ref = `artifacts/${hash.slice(0, 2)}/${hash}${ext.startsWith('.') ? ext : `.${ext}`}`;
  const abs = path.join(runDir, ref);
  try {
    const s = await stat(abs);
    if (s.size === bytes.byteLength) {
      return { ref, sha256: hash };
    }
  } catch {
    // not there yet
  }
  await writeFileAtomic(abs, bytes);
  return { ref, sha256: hash };
}

/** Reads an artifact and checks its hash; a mismatch is an error naming the file. */
export async function readArtifact(runDir: string, artifact: ArtifactRef): Promise<Uint8Array> {
  const abs = path.join(runDir, artifact.ref);
  const bytes = new Uint8Array(await readFile(abs));
  if (sha256(bytes) !== artifact.sha256) {
    throw new Error(`Run-folder artifact ${abs} does not match its recorded sha256 (${artifact.sha256}); it was changed after the run.`);
  }
  return bytes;
}

/** Writes a file via a temporary name and rename, so readers never see half a file. */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}
