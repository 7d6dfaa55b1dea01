import { hashJson, sha256 } from './run/hash';
import type { SessionLike, StageKind, StageRequest, StageResult } from './types';

/** Why a cell's result no longer matches what it was computed from. */
export interface Staleness {
  stale: boolean;
  /** Upstream cell ids whose result changed (or disappeared) since this cell ran, directly or through others. */
  changedUpstream: string[];
  /** The cell's own text changed since its result was computed. */
  edited: boolean;
  /**
   * Prompt templates whose text changed (a prompt cell added, edited or removed) since this cell or
   * a cell it was computed from used them.
   */
  changedPrompts: string[];
  /** Human-readable reasons, e.g. `upstream "vid" changed`. */
  reasons: string[];
}

interface Entry {
  result: StageResult;
  /** Hash of the request (kind, params, uses) the result was computed from. */
  requestHash: string;
  /** Identity of each upstream result when this one was computed: cell id -> content key. */
  upstreamKeys: Record<string, string>;
  /** Finish order, for {@link NotebookSession.latest}. */
  seq: number;
  /** LLM model asked for and the models the server reported, when the cell called an LLM. */
  llm?: LlmModelsUsed;
}

/** The LLM model a cell asked for and the model ids the server reported in its replies. */
export interface LlmModelsUsed {
  requested: string;
  reported: string[];
}

/**
 * Whether the prompt a result used differs from the one the notebook would give it now:
 * `overrides` are the notebook's prompt cells (template name -> text). A result records
 * `data.prompt: { name, source, templateHash }` (a cell that runs several stages, the sweep, lists
 * them in `data.prompts`); one made with a prompt cell is stale when that cell's text changed or is
 * gone, one made with the default template when a prompt cell now overrides it. Returns the first
 * template name that is stale.
 */
export function changedPrompt(result: StageResult, overrides: Readonly<Record<string, string>>): string | undefined {
  const data = result.data as { prompt?: unknown; prompts?: unknown } | null | undefined;
  const records = [data?.prompt, ...(Array.isArray(data?.prompts) ? data.prompts : [])];
  for (const r of records) {
    const p = r as { name?: unknown; source?: unknown; templateHash?: unknown } | null | undefined;
    if (!p || typeof p.name !== 'string' || typeof p.templateHash !== 'string') {
      continue;
    }
    const override = Object.prototype.hasOwnProperty.call(overrides, p.name) ? overrides[p.name] : undefined;
    const stale = p.source === 'cell' ? override === undefined || sha256(override) !== p.templateHash : override !== undefined;
    if (stale) {
      return p.name;
    }
  }
  return undefined;
}

/** Hash of what a cell asks for (kind, params, uses); compare to tell whether the cell was edited. */
export function requestHash(request: StageRequest): string {
  return hashJson({ kind: request.kind, params: request.params, uses: request.uses });
}

/**
 * The results of one open notebook (or one CLI run), by cell id, plus what each was computed from.
 * Staleness is content based: a result is stale when an upstream result it used now has a different
 * input hash or different data (a re-run whose LLM answer changed, or edited parameters), or is gone,
 * directly or transitively. Re-running a cell with the same inputs and the same outcome leaves its
 * dependents fresh.
 */
export class NotebookSession implements SessionLike {
  private readonly _entries = new Map<string, Entry>();
  private _seq = 0;

  get(cellId: string): StageResult | undefined {
    return this._entries.get(cellId)?.result;
  }

  /** The most recently finished result of this kind, wherever its cell is; a cell run sees {@link NotebookSession.viewAt} instead. */
  latest(kind: StageKind | readonly StageKind[]): StageResult | undefined {
    const kinds = kindSet(kind);
    let best: Entry | undefined;
    for (const e of this._entries.values()) {
      if (kinds.has(e.result.kind) && (!best || e.seq > best.seq)) {
        best = e;
      }
    }
    return best?.result;
  }

  /** Cell ids that currently hold a result, in the order they finished. */
  cellIds(): string[] {
    return [...this._entries.entries()].sort((a, b) => a[1].seq - b[1].seq).map(([id]) => id);
  }

  /** The LLM models of a cell's result (see {@link LlmModelsUsed}), when it called an LLM. */
  llmModels(cellId: string): LlmModelsUsed | undefined {
    return this._entries.get(cellId)?.llm;
  }

  /** Stores a finished result (replacing the cell's previous one). */
  put(result: StageResult, request?: StageRequest, extra?: { llm?: LlmModelsUsed }): void {
    const upstreamKeys: Record<string, string> = {};
    for (const id of result.upstream) {
      const up = this._entries.get(id);
      upstreamKeys[id] = up ? contentKey(up.result) : 'missing';
    }
    this._entries.set(result.cellId, {
      result,
      requestHash: request ? requestHash(request) : '',
      upstreamKeys,
      seq: ++this._seq,
      ...(extra?.llm ? { llm: extra.llm } : {}),
    });
  }

  /**
   * What the cell at `position` of a notebook sees of this session (its stage's `ctx.session`);
   * `cellIds` are the notebook's cells in order, by effective id. `get` finds only results of cells
   * still in the notebook, and `latest(kind)` is the result of the nearest cell ABOVE `position`
   * that has a result of that kind: never a deleted cell's, nor the last one run further down.
   */
  viewAt(cellIds: readonly string[], position: number): SessionLike {
    const live = new Set(cellIds);
    return {
      get: (cellId) => (live.has(cellId) ? this.get(cellId) : undefined),
      latest: (kind) => {
        const kinds = kindSet(kind);
        for (let i = Math.min(position, cellIds.length) - 1; i >= 0; i--) {
          const r = this.get(cellIds[i]);
          if (r && kinds.has(r.kind)) {
            return r;
          }
        }
        return undefined;
      },
    };
  }

  /** Forgets the results of cells not in `cellIds` (cells deleted from the notebook); returns the ids forgotten. */
  retain(cellIds: Iterable<string>): string[] {
    const keep = new Set(cellIds);
    const gone = [...this._entries.keys()].filter((id) => !keep.has(id));
    gone.forEach((id) => this._entries.delete(id));
    return gone;
  }

  /** Forgets a cell's result (its run failed or was cancelled, or the cell was deleted). */
  delete(cellId: string): void {
    this._entries.delete(cellId);
  }

  clear(): void {
    this._entries.clear();
  }

  /**
   * Whether a cell's result is stale and why. `current` is the cell's request as it reads now
   * (parsed from the current text); when it differs from the one that produced the result, the
   * cell counts as edited. `promptOverrides` (the notebook's prompt cells, template name -> text):
   * when given, a prompt that changed since this cell or an upstream cell used it makes it stale.
   * `currentOf` (an upstream cell's request as its text reads now): when given, an upstream cell
   * edited since it ran makes this one stale too.
   */
  staleness(
    cellId: string,
    current?: StageRequest,
    promptOverrides?: Readonly<Record<string, string>>,
    currentOf?: (upstreamId: string) => StageRequest | undefined,
  ): Staleness {
    const entry = this._entries.get(cellId);
    const out: Staleness = { stale: false, changedUpstream: [], edited: false, changedPrompts: [], reasons: [] };
    if (!entry) {
      return out;
    }
    if (current && entry.requestHash !== '' && requestHash(current) !== entry.requestHash) {
      out.edited = true;
      out.reasons.push('the cell was edited since it ran');
    }
    const visited = new Set<string>([cellId]);
    const checkPrompt = (e: Entry, via: string | undefined): void => {
      const name = promptOverrides ? changedPrompt(e.result, promptOverrides) : undefined;
      if (name !== undefined && !out.changedPrompts.includes(name)) {
        out.changedPrompts.push(name);
        out.reasons.push(via ? `prompt "${name}" changed since upstream "${via}" used it` : `prompt "${name}" changed since the cell ran`);
      }
    };
    checkPrompt(entry, undefined);
    const walk = (e: Entry, via: string | undefined): void => {
      for (const [upId, key] of Object.entries(e.upstreamKeys)) {
        const up = this._entries.get(upId);
        if (!up || contentKey(up.result) !== key) {
          if (!out.changedUpstream.includes(upId)) {
            out.changedUpstream.push(upId);
            const what = up ? 'was re-run with a different result' : 'has no result any more';
            out.reasons.push(via ? `upstream "${upId}" (via "${via}") ${what}` : `upstream "${upId}" ${what}`);
          }
          continue;
        }
        if (!visited.has(upId)) {
          visited.add(upId);
          const cur = currentOf?.(upId);
          if (cur && up.requestHash !== '' && requestHash(cur) !== up.requestHash && !out.changedUpstream.includes(upId)) {
            out.changedUpstream.push(upId);
            out.reasons.push(`upstream "${upId}" was edited since it ran`);
          }
          checkPrompt(up, upId);
          walk(up, via ?? upId);
        }
      }
    };
    walk(entry, undefined);
    out.stale = out.edited || out.changedUpstream.length > 0 || out.changedPrompts.length > 0;
    return out;
  }

  /** Cells whose results were computed from `cellId`'s result, directly or transitively. */
  dependentsOf(cellId: string): string[] {
    const out: string[] = [];
    const queue = [cellId];
    while (queue.length > 0) {
      const id = queue.shift() as string;
      for (const [other, e] of this._entries) {
        if (other !== cellId && !out.includes(other) && id in e.upstreamKeys) {
          out.push(other);
          queue.push(other);
        }
      }
    }
    return out;
  }
}

const contentKeys = new WeakMap<StageResult, string>();

/** What identifies a result's content: its input hash and its data (computed once per result). */
function contentKey(result: StageResult): string {
  let key = contentKeys.get(result);
  if (key === undefined) {
    key = hashJson({ inputHash: result.inputHash, data: result.data ?? null });
    contentKeys.set(result, key);
  }
  return key;
}

function kindSet(kind: StageKind | readonly StageKind[]): ReadonlySet<StageKind> {
  return new Set<StageKind>(typeof kind === 'string' ? [kind] : kind);
}
