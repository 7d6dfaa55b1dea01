import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { DATASET_KINDS, readDataset } from '../benchmarks/datasets';
import { PipelineError } from '../errors';
import { stageTemplateProblem } from '../llm/templates';
import type { SweepParams } from './schemas/params.generated';

/*
 * The plan of a `sweep` cell: its variants (rows) and inputs (columns), checked before anything runs,
 * with errors that name the field (`variants[1].pivotFrame.strategy`).
 */

const STAGE = 'sweep';

function bad(field: string, message: string): PipelineError {
  return new PipelineError(message, { stage: STAGE, kind: 'invalid-input', field });
}

/** What a variant sets for one step (pivot-frame or pivot-box). */
export interface StepSettings {
  template?: string;
  strategy?: string;
  model?: string;
}

/** One variant, resolved. */
export interface SweepVariant {
  id: string;
  label: string;
  /** The pivot-frame cell's parameters (template, strategy, model, imageDetail). */
  pivotFrame: Record<string, unknown>;
  /** The pivot-box cell's parameters (template, strategy, model, imageDetail). */
  pivotBox: Record<string, unknown>;
  /** Temperature override for both steps (undefined: the notebook's setting). */
  temperature?: number;
  /** What the variant sets, for display. */
  settings: Record<string, string | number | boolean | null>;
}

/**
 * Resolves the variants: names unique, `template` routed to the step its name belongs to, strategies
 * valid for their step, templates known (built-in or a prompt cell of the notebook).
 */
export function resolveVariants(raw: SweepParams['variants'] | undefined, promptCells: readonly string[]): SweepVariant[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw bad('variants', 'A sweep cell needs "variants": a list of at least one variant (the first is the baseline), e.g. `- { name: baseline }`.');
  }
  const seen = new Set<string>();
  return raw.map((v, i) => {
    const at = `variants[${i}]`;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw bad(at, `${at} must be a mapping such as { name: cot-v2, template: pivot-frame.cot/v2 }.`);
    }
    const id = v.name ?? `v${i + 1}`;
    if (seen.has(id)) {
      throw bad(`${at}.name`, `${at}.name "${id}" is used by an earlier variant: give each variant its own name.`);
    }
    seen.add(id);
    const frame: StepSettings = { ...(v.pivotFrame ?? {}) };
    const box: StepSettings = { ...(v.pivotBox ?? {}) };
    if (v.template !== undefined) {
      const target = v.template.startsWith('pivot-frame.') ? frame : v.template.startsWith('pivot-box.') ? box : undefined;
      if (!target) {
        throw bad(`${at}.template`, `${at}.template "${v.template}" is neither a pivot-frame.* nor a pivot-box.* template; use pivotFrame: { template } or pivotBox: { template } to say which step it is for.`);
      }
      if (target.template !== undefined) {
        throw bad(`${at}.template`, `${at} sets the template twice (template and ${target === frame ? 'pivotFrame' : 'pivotBox'}.template); keep one.`);
      }
      target.template = v.template;
    }
    for (const [step, s, field] of [['pivot-frame', frame, 'pivotFrame'], ['pivot-box', box, 'pivotBox']] as const) {
      if (s.template !== undefined) {
        const problem = stageTemplateProblem(s.template, step, promptCells);
        if (problem) {
          throw bad(v.template === s.template ? `${at}.template` : `${at}.${field}.template`, `${at}: ${problem}`);
        }
      }
    }
    const common = { ...(v.imageDetail ? { imageDetail: v.imageDetail } : {}) };
    const model = (s: StepSettings): Record<string, unknown> => (s.model ?? v.model ? { model: s.model ?? v.model } : {});
    const settings: SweepVariant['settings'] = {};
    const put = (k: string, val: string | number | undefined): void => {
      if (val !== undefined) {
        settings[k] = val;
      }
    };
    put('pivotFrame.template', frame.template);
    put('pivotFrame.strategy', frame.strategy);
    put('pivotFrame.model', frame.model);
    put('pivotBox.template', box.template);
    put('pivotBox.strategy', box.strategy);
    put('pivotBox.model', box.model);
    put('model', v.model);
    put('temperature', v.temperature);
    put('imageDetail', v.imageDetail);
    return {
      id,
      label: id,
      pivotFrame: { ...common, ...model(frame), ...(frame.template ? { template: frame.template } : {}), ...(frame.strategy ? { strategy: frame.strategy } : {}) },
      pivotBox: { ...common, ...model(box), ...(box.template ? { template: box.template } : {}), ...(box.strategy ? { strategy: box.strategy } : {}) },
      ...(v.temperature !== undefined ? { temperature: v.temperature } : {}),
      settings,
    };
  });
}

/** Where an input's ground truth comes from. */
export type GroundTruthSource =
  | { kind: 'folder'; dir: string; objectIds?: number[] }
  | { kind: 'dataset'; datasetKind: string; root: string; split?: string; item: string };

/** One input video of the sweep; each of its expressions is one column. */
export interface SweepVideoInput {
  /** Stable id of the video (unique in the sweep). */
  id: string;
  /** Absolute path of the file or frame folder. */
  source: string;
  expressions: string[];
  groundTruth?: GroundTruthSource;
  /** Typed candidates, as the cell gave them (pivot-box `candidates`). */
  candidates?: unknown[];
  /** `inputs[i]` or `dataset.ids[i]`: the field named in errors about this input. */
  field: string;
}

/** A label for a source: its file or folder name (a DAVIS `JPEGImages` folder: its sequence folder). */
export function baseLabel(source: string): string {
  const name = path.basename(source.replace(/[\\/]+$/, ''));
  return name === 'JPEGImages' ? path.basename(path.dirname(source)) : name.replace(/\.[^.]+$/, '');
}

/** Resolves the `inputs:` list against the notebook's folder; sources and ground-truth folders must exist. */
export function resolveInputs(raw: NonNullable<SweepParams['inputs']>, baseDir: string): SweepVideoInput[] {
  const ids = new Set<string>();
  return raw.map((inp, i) => {
    const at = `inputs[${i}]`;
    if (inp === null || typeof inp !== 'object' || typeof inp.source !== 'string' || inp.source.trim() === '') {
      throw bad(`${at}.source`, `${at} needs "source": a video file or a folder of frames.`);
    }
    const source = path.resolve(baseDir, inp.source);
    if (!existsSync(source)) {
      throw bad(`${at}.source`, `${at}.source ${source} does not exist.`);
    }
    if (inp.expression !== undefined && inp.expressions !== undefined) {
      throw bad(`${at}.expressions`, `${at}: give either "expression" or "expressions", not both.`);
    }
    const expressions = (inp.expressions ?? (inp.expression !== undefined ? [inp.expression] : [])).map((e, k) => {
      const text = String(e).replace(/\s+/g, ' ').trim();
      if (!text) {
        throw bad(inp.expressions ? `${at}.expressions[${k}]` : `${at}.expression`, `${at}: an expression is empty; write what to segment.`);
      }
      return text;
    });
    if (expressions.length === 0) {
      throw bad(`${at}.expression`, `${at} needs "expression": what to segment in ${inp.source}.`);
    }
    let groundTruth: GroundTruthSource | undefined;
    if (inp.groundTruth !== undefined) {
      const dir = path.resolve(baseDir, inp.groundTruth);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) {
        throw bad(`${at}.groundTruth`, `${at}.groundTruth ${dir} is not a folder of PNG masks.`);
      }
      groundTruth = { kind: 'folder', dir, ...(inp.objectIds ? { objectIds: inp.objectIds } : {}) };
    } else if (inp.objectIds !== undefined) {
      throw bad(`${at}.objectIds`, `${at}.objectIds needs a "groundTruth" folder to pick the objects from.`);
    }
    if (inp.candidates !== undefined && !Array.isArray(inp.candidates)) {
      throw bad(`${at}.candidates`, `${at}.candidates must be a list of [x0, y0, x1, y1] boxes in pixels.`);
    }
    let id = inp.name ?? baseLabel(source);
    for (let k = 2; ids.has(id); k++) {
      id = `${inp.name ?? baseLabel(source)}-${k}`;
    }
    ids.add(id);
    return { id, source, expressions, field: at, ...(groundTruth ? { groundTruth } : {}), ...(inp.candidates ? { candidates: inp.candidates } : {}) };
  });
}

/** Resolves `dataset:`: the items chosen by `ids` (in that order) or the first `limit` (3) in id order. */
export async function resolveDatasetInputs(d: NonNullable<SweepParams['dataset']>, baseDir: string): Promise<SweepVideoInput[]> {
  if (!(DATASET_KINDS as readonly string[]).includes(d.kind)) {
    throw bad('dataset.kind', `dataset.kind must be one of ref-youtube-vos, ref-davis17, mevis (got "${String(d.kind)}").`);
  }
  if (d.limit !== undefined && d.ids !== undefined) {
    throw bad('dataset.ids', 'dataset: give either "limit" or "ids", not both.');
  }
  const root = path.resolve(baseDir, d.root);
  if (!existsSync(root)) {
    throw bad('dataset.root', `dataset.root ${root} does not exist.`);
  }
  const ds = await readDataset(d.kind, root, d.split);
  const items = [...ds.items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const chosen = d.ids
    ? d.ids.map((id, k) => {
        const it = ds.items.find((x) => x.id === id);
        if (!it) {
          throw bad(`dataset.ids[${k}]`, `dataset.ids[${k}] "${id}" is not in ${ds.kind}/${ds.split} (items look like "${items[0]?.id ?? '<video>/<expression id>'}").`);
        }
        return it;
      })
    : items.slice(0, d.limit ?? 3);
  return chosen.map((it, k) => {
    if (!it.expression || it.frames.length === 0) {
      throw bad(d.ids ? `dataset.ids[${k}]` : 'dataset', `dataset item "${it.id}" has no expression or no frames.`);
    }
    return {
      id: it.id,
      source: path.dirname(it.frames[0].path),
      expressions: [it.expression],
      field: d.ids ? `dataset.ids[${k}]` : 'dataset',
      ...(ds.hasGroundTruth ? { groundTruth: { kind: 'dataset' as const, datasetKind: d.kind, root, ...(d.split ? { split: d.split } : {}), item: it.id } } : {}),
    };
  });
}
