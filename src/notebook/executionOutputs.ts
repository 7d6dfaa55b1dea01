import * as vscode from 'vscode';
import type { OutputChange } from '../pipeline/cells/outputBuilder';
import { planOutputSync, sameOutputItems, sameOutputMetadata } from '../pipeline/cells/outputSync';
import type { OutputModel } from '../pipeline/format/model';

/** The model of one output as a VS Code output: the only place that builds `NotebookCellOutputItem`s. */
export function toCellOutput(output: OutputModel): vscode.NotebookCellOutput {
  return new vscode.NotebookCellOutput(
    output.items.map((i) => new vscode.NotebookCellOutputItem(i.data, i.mime)),
    output.metadata,
  );
}

/** Where {@link ExecutionOutputs} reports updates it could not apply as planned. */
export interface OutputsLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/**
 * Mirrors a cell run's outputs into its execution, batched to a few updates a second: every
 * update goes through one promise chain so they apply in order. The cell's previous outputs stay
 * until the run produces its first output (or its error); then they are replaced. Outputs whose
 * items changed are updated in place (`replaceOutputItems`), new ones appended, anything else
 * (a removal, a metadata change) replaces the list once.
 *
 * In-place updates name the output the DOCUMENT holds at that position (`execution.cell.outputs`),
 * never the object this class passed to `replaceOutput`: VS Code's `replaceOutput` diffs the new
 * list against the cell's current outputs by content and keeps an existing output whose items are
 * byte-identical (with ITS id), so an id kept from the new object may name nothing, and VS Code
 * drops an update naming an unknown output id without an error. That is how record runs lost their
 * reasoning traces: a notebook saved with empty "streaming…" traces (or any run whose first write
 * matched an old output) kept the old outputs, and every later delta went to an id that was not in
 * the cell. Every update is checked against the document afterwards; one that did not land (or
 * threw) is logged and followed by a full replace, and {@link flush} leaves exactly the final outputs.
 */
export class ExecutionOutputs {
  private _written: OutputModel[] | undefined;
  private _pending: readonly OutputModel[] | undefined;
  private _timer: ReturnType<typeof setTimeout> | undefined;
  private _chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly _execution: vscode.NotebookCellExecution,
    private readonly _log: OutputsLog,
    private readonly _intervalMs = 200,
  ) {}

  /** Listener for `runCell`'s `onOutputs`. */
  readonly listener = (_change: OutputChange, outputs: readonly OutputModel[]): void => {
    this._pending = outputs;
    if (this._timer === undefined) {
      this._timer = setTimeout(() => {
        this._timer = undefined;
        this._enqueue();
      }, this._intervalMs);
    }
  };

  private get _label(): string {
    return `cell ${this._execution.cell.index + 1}`;
  }

  private _enqueue(): void {
    const next = this._pending;
    this._pending = undefined;
    if (next !== undefined) {
      this._chain = this._chain.then(() => this._applySafely(next));
    }
  }

  /** Applies an update; a failure is logged and the next update replaces every output. */
  private async _applySafely(models: readonly OutputModel[]): Promise<void> {
    try {
      await this._apply(models);
    } catch (err) {
      this._written = undefined;
      this._log.error(`Output update of ${this._label} failed (${err instanceof Error ? err.message : String(err)}); the next update replaces all its outputs.`);
    }
  }

  /**
   * Writes the final outputs and waits for every queued update. `replaceIfEmpty`: also clear old
   * outputs when the run produced none (a successful run); a cancelled run with no output leaves
   * the previous outputs as they were. Afterwards the cell holds exactly `final` (checked; a
   * mismatch is logged and repaired with a full replace).
   */
  async flush(final: readonly OutputModel[], replaceIfEmpty: boolean): Promise<void> {
    if (this._timer !== undefined) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
    this._pending = undefined;
    if (final.length === 0 && this._written === undefined && !replaceIfEmpty) {
      await this._chain;
      return;
    }
    this._chain = this._chain.then(async () => {
      await this._applySafely(final);
      for (let attempt = 1; attempt <= 2 && !this._matches(final); attempt++) {
        this._log.warn(`The outputs of ${this._label} differ from the run's final outputs after the last update (attempt ${attempt}); replacing them all.`);
        try {
          await this._replaceAll(final);
        } catch (err) {
          this._log.error(`Final output write of ${this._label} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if (!this._matches(final)) {
        this._log.error(`The outputs of ${this._label} still differ from the run's final outputs.`);
      }
    });
    await this._chain;
  }

  /** Whether the document's outputs of the cell are exactly `models` (items by content and metadata, in order). */
  private _matches(models: readonly OutputModel[]): boolean {
    const live = this._execution.cell.outputs;
    return live.length === models.length && models.every((m, i) => sameOutputItems(live[i].items, m.items) && sameOutputMetadata(live[i].metadata, m.metadata));
  }

  /**
   * Replaces every output. When VS Code kept an existing output because its items are identical but
   * its metadata differs (a renderer payload, the LLM mode), the cell is cleared and written again,
   * so the document holds exactly `models`.
   */
  private async _replaceAll(models: readonly OutputModel[]): Promise<void> {
    await this._execution.replaceOutput(models.map(toCellOutput));
    if (!this._matches(models)) {
      this._log.info(`${this._label}: VS Code kept earlier outputs with the same items but other metadata; writing the outputs afresh.`);
      await this._execution.clearOutput();
      await this._execution.replaceOutput(models.map(toCellOutput));
    }
    this._written = [...models];
  }

  private async _apply(models: readonly OutputModel[]): Promise<void> {
    const written = this._written;
    const live = this._execution.cell.outputs;
    if (written !== undefined && live.length !== written.length) {
      this._log.warn(`${this._label} holds ${live.length} outputs where this run wrote ${written.length}; replacing them all.`);
      await this._replaceAll(models);
      return;
    }
    for (const op of planOutputSync(written, models)) {
      if (op.type === 'replaceAll' || written === undefined) {
        await this._replaceAll(models);
        return;
      }
      if (op.type === 'replaceItems') {
        const model = models[op.index];
        const target = this._execution.cell.outputs[op.index];
        await this._execution.replaceOutputItems(model.items.map((it) => new vscode.NotebookCellOutputItem(it.data, it.mime)), target);
        const now = this._execution.cell.outputs[op.index];
        if (!now || !sameOutputItems(now.items, model.items)) {
          this._log.warn(`An in-place update of output ${op.index + 1} of ${this._label} did not reach the notebook; replacing all its outputs.`);
          await this._replaceAll(models);
          return;
        }
        written[op.index] = model;
      } else {
        const added = models.slice(op.from);
        await this._execution.appendOutput(added.map(toCellOutput));
        written.push(...added);
      }
    }
  }
}
