import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { PROMPT_LANGUAGE, STAGE_LANGUAGE } from '../../common/mime';
import { exportHtmlReport, pivotViewImages } from '../../pipeline/cells/htmlReport';
import { MISSING_MODEL_POLICIES, pullCommand } from '../../pipeline/cells/missingModels';
import type { MissingModelPolicy } from '../../pipeline/cells/missingModels';
import { ExperimentRecorder } from '../../pipeline/cells/record';
import { runNotebook } from '../../pipeline/cells/runNotebook';
import type { MissingModelAction, NotebookRunResult, RunNotebookOptions } from '../../pipeline/cells/runNotebook';
import type { CellLike } from '../../pipeline/cells/notebook';
import { applyNotebookSettings, mergeSettings, parseSetPairs, settingPaths } from '../../pipeline/cells/settingsMerge';
import { PipelineError } from '../../pipeline/errors';
import type { StageEvent } from '../../pipeline/events';
import { decodeNotebookBytes, describeInvalidUtf8, exportIpynb, parseNotebook, serializeNotebook } from '../../pipeline/format';
import type { AlrefNotebookMetadata, NotebookModel } from '../../pipeline/format';
import { checkWritable, runDirFor, writeFileAtomic } from '../../pipeline/run/runFolder';
import { createServices } from '../../pipeline/services';
import type { Services } from '../../pipeline/services';
import { requireModels } from '../../pipeline/models/service';
import { NotebookSession } from '../../pipeline/session';
import { defaultSettings } from '../../pipeline/settings';
import type { PipelineSettings } from '../../pipeline/settings';
import { cliServiceEnv, packageRoot, packageVersion, stderrLogger } from '../env';
import { pullWithProgress } from '../pullProgress';
import { interruptSignal } from '../signals';

export interface NotebookRunOptions {
  out?: string;
  mode?: 'live' | 'record' | 'replay';
  /** Record mode: send every LLM request again, overwriting recorded exchanges, instead of reusing them. */
  rerecord?: boolean;
  set?: string[];
  verbose?: boolean;
  /** A cell needs a model that is not installed: fail (default), skip it, or pull it (skip when that fails). */
  missingModels?: MissingModelPolicy;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Settings of a CLI run: defaults, then `--set key=value` pairs, then `--mode`. Unknown keys throw. */
export function cliSettings(options: NotebookRunOptions): PipelineSettings {
  const base = defaultSettings();
  const pairs = parseSetPairs(options.set ?? []);
  const known = settingPaths(base);
  for (const key of pairs.keys()) {
    const ok = known.includes(key) || known.some((k) => k.startsWith(`${key}.`)) || key.startsWith('llm.prices');
    if (!ok) {
      throw new InvalidArgumentError(`Unknown setting "${key}" in --set. Known settings: ${known.join(', ')}.`);
    }
  }
  const problems: string[] = [];
  const settings = mergeSettings(base, (p) => pairs.get(p), (p, v, expected) => problems.push(`--set ${p}=${JSON.stringify(v)}: expected ${expected}`));
  if (problems.length > 0) {
    throw new InvalidArgumentError(problems.join('; '));
  }
  if (options.mode) {
    settings.llm.mode = options.mode;
  }
  return settings;
}

/** Prints progress to stderr: one overwritten line on a terminal, else at most one line a second per label. */
class ProgressPrinter {
  private _last = 0;
  private _lastText = '';
  private readonly _tty = Boolean(process.stderr.isTTY);

  event(prefix: string, e: StageEvent): void {
    if (e.type === 'progress') {
      const text = `${prefix} ${e.label ? `${e.label}: ` : ''}${e.done}/${e.total}`;
      const now = Date.now();
      if (this._tty) {
        process.stderr.write(`\r\x1b[K${text}`);
        this._lastText = text;
      } else if (now - this._last >= 1000 || e.done === e.total) {
        process.stderr.write(`${text}\n`);
        this._last = now;
      }
    } else if (e.type === 'warning') {
      this.line(`${prefix} warning: ${e.message}`);
    } else if (e.type === 'trace' && e.final) {
      this.line(`${prefix} ${e.title ?? e.streamId}: answer ${e.final.answer ?? '(none)'} (${e.final.valid ? 'valid' : 'invalid'})`);
    }
  }

  line(text: string): void {
    if (this._tty && this._lastText !== '') {
      process.stderr.write('\r\x1b[K');
      this._lastText = '';
    }
    process.stderr.write(`${text}\n`);
  }
}

/**
 * Why a download failed, short and without local paths (it goes into the notebook): the network
 * error under the store's message (`fetch failed (ENOTFOUND)`), else the message itself.
 */
function downloadProblem(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
  if (!cause) {
    return err instanceof Error ? err.message : String(err);
  }
  const code = (cause.cause as { code?: unknown } | undefined)?.code;
  return `${cause.message}${typeof code === 'string' ? ` (${code})` : ''}`;
}

/**
 * The run's answer to a missing model under `policy` (see {@link MissingModelPolicy}): `pull` downloads
 * it into the run's model store with progress on stderr (once per model: a failed download is not
 * tried again for the next cell), and skips the cell when that fails. Undefined for `fail`.
 */
function missingModelHandler(policy: MissingModelPolicy, services: Services, printer: ProgressPrinter, signal: AbortSignal): RunNotebookOptions['onMissingModel'] {
  if (policy === 'fail') {
    return undefined;
  }
  const failed = new Map<string, string>();
  return async (modelId, _cell, index): Promise<MissingModelAction> => {
    if (policy === 'skip') {
      return { action: 'skip' };
    }
    const known = failed.get(modelId);
    if (known !== undefined) {
      return { action: 'skip', problem: known };
    }
    printer.line(`[cell ${index + 1}] model "${modelId}" is not installed; downloading it (${pullCommand(modelId)})`);
    try {
      const store = await requireModels(services, 'models').store();
      const dir = await pullWithProgress(store, modelId, signal);
      printer.line(`[cell ${index + 1}] ${modelId}: ${dir}`);
      return { action: 'retry' };
    } catch (err) {
      if (signal.aborted) {
        // run the cell again: it sees the cancelled signal and ends as cancelled
        return { action: 'retry' };
      }
      printer.line(`[cell ${index + 1}] could not download ${modelId}: ${err instanceof Error ? err.message : String(err)}`);
      const problem = downloadProblem(err);
      failed.set(modelId, problem);
      return { action: 'skip', problem };
    }
  };
}

/** True when both paths name the same existing file (same device and inode, symbolic links followed). */
async function sameFile(a: string, b: string): Promise<boolean> {
  if (a === b) {
    return true;
  }
  const [sa, sb] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)]);
  return sa !== undefined && sb !== undefined && sa.dev === sb.dev && sa.ino === sb.ino;
}

/**
 * Reads and parses a notebook for a command that writes `dest`: bytes that are not valid UTF-8 are
 * refused when `dest` is the notebook itself (writing would replace them with U+FFFD), and only
 * warned about otherwise. Throws a {@link PipelineError} naming the file.
 */
async function readNotebookFor(abs: string, dest: string, warn: (message: string) => void): Promise<NotebookModel> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(abs);
  } catch (err) {
    throw new PipelineError(`Cannot read notebook ${abs}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`, { stage: 'format', kind: 'invalid-input', file: abs, cause: err });
  }
  const { text, invalidUtf8 } = decodeNotebookBytes(bytes);
  const model = parseNotebook(text, { file: abs });
  if (invalidUtf8) {
    const what = `${abs} ${describeInvalidUtf8(invalidUtf8)}`;
    // stat follows symbolic links: a link to the notebook is the notebook.
    if (await sameFile(dest, abs)) {
      throw new PipelineError(
        `${what}. Writing it back would replace them with U+FFFD (\u{FFFD}), so nothing was run and the file was not changed. Fix its encoding, or write the result to another file with --out.`,
        { stage: 'format', kind: 'invalid-input', file: abs },
      );
    }
    warn(`warning: ${what}; ${dest} gets U+FFFD (\u{FFFD}) in their place.`);
  }
  return model;
}

/**
 * Executes every cell of a notebook in order with the same run loop as the VS Code kernel (`runNotebook`) and
 * writes the executed notebook (in place, or to `out`). Returns the process exit code: 0 on success
 * (cells skipped for a missing model under `missingModels: skip | pull` included), 1 when a cell fails (the notebook is still written, with the error output), 130 when interrupted
 * (nothing written; the command turns it into 128 + the signal's number, see ../signals). The
 * interrupted cell returns only after its work stopped (ffmpeg exited, temporary folders removed). A
 * notebook that cannot be read, an output path that cannot be written (a folder, a read-only folder)
 * and, in place, a notebook with bytes that are not valid UTF-8 throw before any cell runs and before
 * anything is written. With `out`, the input file is never written.
 */
export async function runNotebookFile(file: string, options: NotebookRunOptions, signal?: AbortSignal): Promise<number> {
  const abs = path.resolve(file);
  const requestedOut = options.out ? path.resolve(options.out) : abs;
  const printer = new ProgressPrinter();
  const model: NotebookModel = await readNotebookFor(abs, requestedOut, (m) => printer.line(m));
  // Before the run, not after it: a folder, a missing or read-only folder fails now, naming the path.
  const outFile = await checkWritable(requestedOut);
  // Precedence of the LLM mode: --mode, then the notebook's own choice (metadata.alref.llmMode), then --set/defaults.
  const settings = applyNotebookSettings(cliSettings({ ...options, mode: undefined }), model.metadata);
  if (options.mode) {
    settings.llm.mode = options.mode;
  }
  const runDir = runDirFor(abs);
  const log = stderrLogger(Boolean(options.verbose));
  if (options.rerecord && settings.llm.mode !== 'record') {
    throw new PipelineError(`--rerecord needs record mode (the LLM mode of this run is ${settings.llm.mode}); add --mode record.`, { stage: 'llm', kind: 'invalid-input', field: 'rerecord' });
  }
  const services = createServices(settings, { ...cliServiceEnv(runDir, (m) => log.info(m)), log, rerecord: options.rerecord });
  const session = new NotebookSession();
  const recorder = new ExperimentRecorder();
  const cells: CellLike[] = model.cells.map((c) => ({ id: String(c.metadata.id), language: c.kind === 'markdown' ? 'markdown' : c.language, source: c.source }));
  const ac = new AbortController();
  const onAbort = (): void => ac.abort();
  if (signal?.aborted) {
    ac.abort();
  }
  signal?.addEventListener('abort', onAbort, { once: true });
  let order = 0;
  let startTime = 0;
  const meta = (model.metadata.alref ?? { formatVersion: 1 }) as AlrefNotebookMetadata;
  let run: NotebookRunResult;
  try {
    run = await runNotebook({
      cells,
      session,
      host: { runDir, baseDir: path.dirname(abs), resourcesDir: packageRoot(), settings, services, log },
      signal: ac.signal,
      recorder,
      onMissingModel: missingModelHandler(options.missingModels ?? 'fail', services, printer, ac.signal),
      beforeCell: (cell, i) => {
        if (cell.language !== STAGE_LANGUAGE && cell.language !== PROMPT_LANGUAGE) {
          return 'skip';
        }
        const prefix = `[cell ${i + 1}]`;
        printer.line(`${prefix} running ${cell.language === STAGE_LANGUAGE ? 'stage' : 'prompt'} cell "${cell.id}"`);
        startTime = Date.now();
        return {
          previousOutputs: model.cells[i].outputs,
          onEvent: (e) => printer.event(prefix, e),
          done: (outcome) => {
            if (outcome.status === 'cancelled') {
              return;
            }
            if (outcome.status === 'skipped') {
              model.cells[i].outputs = outcome.outputs;
              delete model.cells[i].executionSummary;
              printer.line(outcome.message ?? `${prefix} skipped`);
              return;
            }
            model.cells[i].outputs = outcome.outputs;
            model.cells[i].executionSummary = { executionOrder: ++order, success: outcome.status === 'ok', timing: { startTime, endTime: Date.now() } };
            printer.line(outcome.status === 'error' ? (outcome.message ?? `${prefix} failed`) : `${prefix} done in ${((Date.now() - startTime) / 1000).toFixed(1)} s`);
          },
        };
      },
      // an interrupted run writes nothing, so it needs no record
      record: ({ status }) => status === 'cancelled' ? undefined : {
        version: packageVersion(),
        settings,
        usedModelFiles: services.models?.usedFiles?.() ?? [],
        previous: meta.record,
        warn: (m) => printer.line(`warning: ${m}`),
      },
    });
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (run.status === 'cancelled') {
    const last = run.ran.at(-1);
    printer.line(`${last ? `[cell ${last.index + 1}] ` : ''}interrupted; ${outFile} was not written.`);
    return 130;
  }
  meta.record = run.record;
  model.metadata.alref = meta;
  try {
    await writeFileAtomic(outFile, serializeNotebook(model));
  } catch (err) {
    const kept = outFile === abs || options.out === undefined ? `${abs} keeps its previous content` : `${abs} was not changed`;
    throw new PipelineError(`${err instanceof Error ? err.message : String(err)} The results of this run were not saved; ${kept}.`, {
      stage: 'files',
      kind: err instanceof PipelineError ? err.kind : 'backend',
      file: outFile,
      cause: err,
    });
  }
  const shown = path.relative(process.cwd(), requestedOut);
  printer.line(`wrote ${shown === '' || shown.startsWith('..') ? requestedOut : shown}${outFile !== requestedOut ? ` (through the link, to ${outFile})` : ''}`);
  if (run.skipped) {
    const ids = [...new Set(run.skipped.map((s) => s.modelId))];
    printer.line(`${run.skipped.length} cell(s) skipped (${run.skipped.map((s) => s.cellId).join(', ')}): install the missing model(s) with \`${ids.map(pullCommand).join(' && ')}\` and run again.`);
  }
  return run.status === 'error' ? 1 : 0;
}

/**
 * Writes a notebook in another format next to it (`.alref` replaced by `ext`) or at `out`; returns the
 * path. Nothing is written onto the notebook itself, nor when the notebook cannot be read or parsed;
 * the output path is checked (a folder, a read-only folder) before `render` runs. Errors name the file.
 */
async function exportAs(file: string, out: string | undefined, ext: string, what: string, warn: (message: string) => void, render: (model: NotebookModel, abs: string) => Promise<string | Uint8Array>): Promise<string> {
  const abs = path.resolve(file);
  const dest = path.resolve(out ?? `${abs.replace(/\.alref$/i, '')}${ext}`);
  if (await sameFile(dest, abs)) {
    throw new PipelineError(`${dest} is the notebook itself; the ${what} was not written and the notebook was not changed. Choose another path with --out.`, {
      stage: 'files',
      kind: 'invalid-input',
      file: dest,
    });
  }
  const model = await readNotebookFor(abs, dest, warn);
  const target = await checkWritable(dest);
  await writeFileAtomic(target, await render(model, abs));
  return dest;
}

const stderrWarn = (m: string): void => {
  process.stderr.write(`${m}\n`);
};

/** Writes a notebook as a plain `.ipynb` with every output in full (see {@link exportAs}). */
export function exportNotebookFile(file: string, out?: string, warn: (message: string) => void = stderrWarn): Promise<string> {
  return exportAs(file, out, '.ipynb', 'Jupyter notebook', warn, async (model) => exportIpynb(model));
}

/** Writes a notebook as one self-contained HTML report (see {@link exportAs}). */
export function exportHtmlFile(file: string, out?: string, warn: (message: string) => void = stderrWarn): Promise<string> {
  return exportAs(file, out, '.html', 'HTML report', warn, async (model, abs) => {
    const images = await pivotViewImages(model, runDirFor(abs));
    return exportHtmlReport(model, { source: path.basename(abs), runFolder: path.basename(runDirFor(abs)), readArtifact: (ref) => images.get(ref) });
  });
}

/**
 * `alref notebook run <file> [--out <file>] [--mode live|record|replay] [--rerecord] [--set key=value]... [--missing-models fail|skip|pull]` and
 * `alref notebook export <file> [--html] [--out <file>]`.
 */
export function registerNotebookCommand(program: Command): void {
  const notebook = program.command('notebook').description('work with .alref notebooks');
  notebook
    .command('run')
    .description('execute every cell in order (the same runner as the VS Code kernel) and write the executed notebook')
    .argument('<file>', 'the .alref notebook to run')
    .option('-o, --out <file>', 'write the executed notebook here instead of in place (the run folder stays next to <file>)')
    .addOption(
      new Option('--mode <mode>', 'LLM mode: live calls the API; record answers requests already recorded from the run folder and sends and stores the others; replay only reads stored ones')
        .choices(['live', 'record', 'replay']),
    )
    .option('--rerecord', 'with --mode record: send every LLM request again and overwrite its recorded exchange')
    .option('--set <key=value>', 'override a setting by its field path, e.g. llm.models.pivotFrame=gpt-4o (repeatable)', collect, [])
    .option('-v, --verbose', 'also print informational log lines')
    .addOption(
      new Option(
        '--missing-models <policy>',
        'when a cell needs a model that is not installed: fail (stop there), skip (mark the cell and the cells that need its result skipped, with the `alref models pull` command, and go on), or pull (download it with progress, from ALREF_MODELS_MIRROR when set; skip when that fails). Exit 0 when only skips happened',
      ).choices([...MISSING_MODEL_POLICIES]).default('fail'),
    )
    .action(async (file: string, opts: NotebookRunOptions) => {
      const interrupt = interruptSignal();
      try {
        process.exitCode = await runNotebookFile(file, opts, interrupt.signal);
      } catch (err) {
        process.stderr.write(`alref: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      } finally {
        // 130 / 143 / 129 when a stop signal came (set after the run has cleaned up)
        interrupt.dispose();
      }
    });
  notebook
    .command('export')
    .description('write the notebook as a plain Jupyter .ipynb (outputs kept), or with --html as one self-contained HTML report')
    .argument('<file>', 'the .alref notebook')
    .option('--html', 'write an HTML report that any browser opens offline (images embedded, traces, tables, sweep matrix, experiment record)')
    .option('-o, --out <file>', 'the file to write (default: next to <file>, with the extension .ipynb, or .html with --html)')
    .action(async (file: string, opts: { out?: string; html?: boolean }) => {
      try {
        process.stderr.write(`wrote ${await (opts.html ? exportHtmlFile(file, opts.out) : exportNotebookFile(file, opts.out))}\n`);
      } catch (err) {
        process.stderr.write(`alref: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      }
    });
}
