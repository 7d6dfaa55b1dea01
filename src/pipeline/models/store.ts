import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError } from '../errors';
import { downloadFile, sha256File, type DownloadProgress } from './download';
import type { ModelEntry, ModelFile, ModelTask } from './manifest';

/** Where a model's files were found. */
export interface ModelLocation {
  dir: string;
  source: 'local' | 'cache';
}

/** One file's state as `alref models verify` reports it. */
export interface FileCheck {
  key: string;
  path: string;
  exists: boolean;
  size: number | null;
  /** true/false after hashing; null when the manifest has no sha256 (or the file is missing). */
  sha256Ok: boolean | null;
  sha256: string | null;
  problem?: string;
}

export interface ModelStoreOptions {
  /** Folder downloads go to: `<cacheDir>/<id>/<file path>`. */
  cacheDir: string;
  /** Optional folder searched first, same layout (offline use, tests). */
  localDir?: string;
  entries: ModelEntry[];
  /**
   * Base URL that replaces the host of every download URL (`https://huggingface.co/<repo>/...` is
   * fetched from `<mirror>/<repo>/...`): a mirror or proxy of the publishers' files. The CLI reads it
   * from `ALREF_MODELS_MIRROR`.
   */
  mirror?: string;
}

/** `url` fetched through `mirror` (its origin replaced by the mirror's base URL); `url` itself without one. */
export function mirroredUrl(url: string, mirror: string | undefined): string {
  if (!mirror) {
    return url;
  }
  const u = new URL(url);
  return `${mirror.replace(/\/+$/, '')}${u.pathname}${u.search}`;
}

/** The CLI command that downloads a model, for error messages. */
export function pullCommand(id: string): string {
  return `alref models pull ${id}`;
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Known models and where their files are: the local folder first, then the download cache.
 * Downloads go to the cache (see {@link downloadFile} for resume, checksum and atomic move).
 */
export class ModelStore {
  constructor(private readonly _options: ModelStoreOptions) {}

  get cacheDir(): string {
    return this._options.cacheDir;
  }

  get localDir(): string | undefined {
    return this._options.localDir || undefined;
  }

  list(): ModelEntry[] {
    return this._options.entries;
  }

  /** The manifest entry; an unknown id is an error listing the known ones. */
  entry(id: string, task?: ModelTask): ModelEntry {
    const e = this._options.entries.find((x) => x.id === id);
    if (!e) {
      const known = this._options.entries.filter((x) => !task || x.task === task).map((x) => x.id);
      throw new PipelineError(`Unknown model "${id}". Known${task ? ` ${task}` : ''} models: ${known.join(', ')}. Add your own in a model manifest (alref.models.manifestFile).`, {
        stage: 'models', kind: 'invalid-input', field: 'model',
      });
    }
    if (task && e.task !== task) {
      throw new PipelineError(`Model "${id}" is a ${e.task} model; this slot needs a ${task} model (for example ${this._options.entries.find((x) => x.task === task)?.id ?? 'none known'}).`, {
        stage: 'models', kind: 'invalid-input', field: 'model',
      });
    }
    return e;
  }

  /** Folder holding every file of the model, or null when it is not (completely) present. */
  async locate(id: string): Promise<ModelLocation | null> {
    const e = this.entry(id);
    const candidates: ModelLocation[] = [];
    if (this.localDir) {
      candidates.push({ dir: path.join(this.localDir, id), source: 'local' });
    }
    candidates.push({ dir: path.join(this.cacheDir, id), source: 'cache' });
    for (const c of candidates) {
      let all = true;
      for (const f of e.files) {
        if (!(await exists(path.join(c.dir, f.path)))) {
          all = false;
          break;
        }
      }
      if (all) {
        return c;
      }
    }
    return null;
  }

  /** Absolute path of one file; a missing model is a `missing-model` error that says how to get it. */
  async filePath(id: string, key: string, task?: ModelTask): Promise<string> {
    const e = this.entry(id, task);
    const file = this.fileSpec(e, key);
    const loc = await this.locate(id);
    if (!loc) {
      throw this.missing(e);
    }
    return path.join(loc.dir, file.path);
  }

  fileSpec(e: ModelEntry, key: string): ModelFile {
    const file = e.files.find((f) => f.key === key);
    if (!file) {
      throw new PipelineError(`Model "${e.id}" has no file "${key}" (it has ${e.files.map((f) => f.key).join(', ')}); it is probably not a ${e.task} model of the expected layout.`, {
        stage: 'models', kind: 'invalid-input', field: e.id,
      });
    }
    return file;
  }

  missing(e: ModelEntry): PipelineError {
    const urls = e.files.map((f) => f.url).filter(Boolean);
    const where = this.localDir ? `${path.join(this.localDir, e.id)} or ${path.join(this.cacheDir, e.id)}` : path.join(this.cacheDir, e.id);
    return new PipelineError(
      `Model "${e.id}" (${e.title}) is not downloaded. Run \`${pullCommand(e.id)}\` (in VS Code: "AL-Ref: Download Model"), ` +
        `or put its files (${e.files.map((f) => f.path).join(', ')}) under ${where}. Source: ${e.homepage || urls[0] || 'see the manifest'}.`,
      { stage: 'models', kind: 'missing-model', field: e.id },
    );
  }

  /**
   * Downloads every missing file of a model into the cache. Files already complete are skipped;
   * a `.part` file from an interrupted run is resumed.
   */
  async pull(id: string, options: { onProgress?(p: DownloadProgress & { key: string; index: number; count: number }): void; signal?: AbortSignal; retries?: number; retryDelayMs?: number } = {}): Promise<string> {
    const e = this.entry(id);
    const dir = path.join(this.cacheDir, id);
    for (const [index, f] of e.files.entries()) {
      const dest = path.join(dir, f.path);
      if (await exists(dest)) {
        continue;
      }
      if (!f.url) {
        throw new PipelineError(`Model "${id}" file ${f.path} has no download URL; put it under ${dir} by hand.`, { stage: 'models', kind: 'invalid-input', field: id });
      }
      await downloadFile(mirroredUrl(f.url, this._options.mirror), dest, {
        sha256: f.sha256,
        size: f.sizeExact ? f.size : null,
        signal: options.signal,
        retries: options.retries,
        retryDelayMs: options.retryDelayMs,
        onProgress: (p) => options.onProgress?.({ ...p, key: f.key, index, count: e.files.length }),
      });
    }
    return dir;
  }

  /** Hashes every present file against the manifest. */
  async verify(id: string, signal?: AbortSignal): Promise<{ location: ModelLocation | null; files: FileCheck[] }> {
    const e = this.entry(id);
    const location = await this.locate(id);
    const dir = location?.dir ?? path.join(this.cacheDir, id);
    const files: FileCheck[] = [];
    for (const f of e.files) {
      const abs = path.join(dir, f.path);
      if (!(await exists(abs))) {
        files.push({ key: f.key, path: abs, exists: false, size: null, sha256Ok: null, sha256: null, problem: 'missing' });
        continue;
      }
      const size = (await stat(abs)).size;
      const sha = await sha256File(abs, signal);
      const check: FileCheck = { key: f.key, path: abs, exists: true, size, sha256: sha, sha256Ok: f.sha256 ? sha === f.sha256 : null };
      if (check.sha256Ok === false) {
        check.problem = `sha256 ${sha} differs from the manifest's ${f.sha256}`;
      } else if (f.sizeExact && f.size !== null && size !== f.size) {
        check.problem = `size ${size} differs from the manifest's ${f.size}`;
      }
      files.push(check);
    }
    return { location, files };
  }
}
