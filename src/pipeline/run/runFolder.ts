import { chmod, lstat, mkdir, open, readFile, readlink, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError } from '../errors';
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

/** A file of the run folder as a renderer reference (relative, `/`-separated), or undefined when it lies outside. */
export function runFolderRef(runDir: string, file: string): string | undefined {
  const rel = path.relative(path.resolve(runDir), path.resolve(file));
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? undefined : rel.split(path.sep).join('/');
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

const ERRNO_TEXT: Record<string, string> = {
  EISDIR: 'it is a folder',
  ENOTDIR: 'a part of the path is a file, not a folder',
  ENOENT: 'its folder does not exist',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EFBIG: 'the file is larger than allowed (file size limit)',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
  EIO: 'an input/output error',
};

/** A {@link PipelineError} naming the file that could not be written and why. */
function writeError(file: string, err: unknown): PipelineError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why = (code && ERRNO_TEXT[code]) ?? (err instanceof Error ? err.message : String(err));
  const kind = code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO' || code === 'EFBIG' ? 'backend' : 'invalid-input';
  return new PipelineError(`Cannot write ${file}: ${why}${code && ERRNO_TEXT[code] ? ` (${code})` : ''}.`, { stage: 'files', kind, file, cause: err });
}

/**
 * The file a write to `file` really changes: symbolic links are followed (also a link whose
 * target does not exist yet), so writing keeps the link and replaces the file it points to.
 */
async function writeTarget(file: string): Promise<string> {
  let current = path.resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    let isLink: boolean;
    try {
      isLink = (await lstat(current)).isSymbolicLink();
    } catch {
      return current;
    }
    if (!isLink) {
      return current;
    }
    current = path.resolve(path.dirname(current), await readlink(current));
  }
  throw writeError(file, Object.assign(new Error('too many symbolic links'), { code: 'ELOOP' }));
}

/** Creates the folders above `target`; a file in their place is an error naming `target`. */
async function makeParent(target: string): Promise<void> {
  try {
    await mkdir(path.dirname(target), { recursive: true });
  } catch (err) {
    // mkdir says EEXIST when a part of the path is a file.
    throw writeError(target, (err as NodeJS.ErrnoException).code === 'EEXIST' ? Object.assign(new Error('not a folder'), { code: 'ENOTDIR' }) : err);
  }
}

function tempNameFor(target: string): string {
  return `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
}

/**
 * Checks, before any long work, that `file` can be written the way {@link writeFileAtomic} will:
 * follows symbolic links, refuses a folder, creates the parent folders, and creates then removes a
 * temporary file next to the target (so a read-only or missing folder fails now, not after a run).
 * Returns the path that will really be written. Throws a {@link PipelineError} naming the path.
 */
export async function checkWritable(file: string): Promise<string> {
  const target = await writeTarget(file);
  const st = await stat(target).catch(() => undefined);
  if (st?.isDirectory()) {
    throw writeError(target, Object.assign(new Error('is a folder'), { code: 'EISDIR' }));
  }
  await makeParent(target);
  const probe = tempNameFor(target);
  try {
    const fh = await open(probe, 'wx');
    await fh.close();
  } catch (err) {
    throw writeError(target, err);
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
  return target;
}

/**
 * Writes a file via a temporary file next to it and a rename, so readers never see half a file.
 * A symbolic link is written through (the link stays, its target is replaced); an existing file
 * keeps its permissions. On any failure the temporary file is removed and the error (a
 * {@link PipelineError}) names the file and the reason; the previous content is left as it was.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const target = await writeTarget(file);
  await makeParent(target);
  const tmp = tempNameFor(target);
  let created = false;
  try {
    const fh = await open(tmp, 'wx');
    created = true;
    try {
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
    const previous = await stat(target).catch(() => undefined);
    if (previous?.isFile()) {
      await chmod(tmp, previous.mode & 0o7777);
    }
    await rename(tmp, target);
    created = false;
  } catch (err) {
    throw writeError(target, err);
  } finally {
    if (created) {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }
}
