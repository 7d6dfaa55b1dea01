import * as vscode from 'vscode';
import type { OutputChange } from '../pipeline/cells/outputs';
import { planOutputSync } from '../pipeline/cells/outputSync';
import type { OutputModel } from '../pipeline/format/model';

/** The model of one output as a VS Code output: the only place that builds `NotebookCellOutputItem`s. */
export function toCellOutput(output: OutputModel): vscode.NotebookCellOutput {
  return new vscode.NotebookCellOutput(
    output.items.map((i) => new vscode.NotebookCellOutputItem(i.data, i.mime)),
    output.metadata,
  );
}

/**
 * Mirrors a cell run's outputs into its execution, batched to a few updates a second: every
 * update goes through one promise chain so they apply in order. The cell's previous outputs stay
 * until the run produces its first output (or its error); then they are replaced. Outputs whose
 * items changed are updated in place (`replaceOutputItems`), new ones appended, anything else
 * (a removal, a metadata change) replaces the list once.
 */
export class ExecutionOutputs {
  private _written: Array<{ model: OutputModel; output: vscode.NotebookCellOutput }> | undefined;
  private _pending: readonly OutputModel[] | undefined;
  private _timer: ReturnType<typeof setTimeout> | undefined;
  private _chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly _execution: vscode.NotebookCellExecution,
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

  private _enqueue(): void {
    const next = this._pending;
    this._pending = undefined;
    if (next !== undefined) {
      this._chain = this._chain.then(() => this._apply(next)).catch(() => undefined);
    }
  }

  /**
   * Writes the final outputs and waits for every queued update. `replaceIfEmpty`: also clear old
   * outputs when the run produced none (a successful run); a cancelled run with no output leaves
   * the previous outputs as they were.
   */
  async flush(final: readonly OutputModel[], replaceIfEmpty: boolean): Promise<void> {
    if (this._timer !== undefined) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
    this._pending = undefined;
    if (final.length > 0 || this._written !== undefined || replaceIfEmpty) {
      this._chain = this._chain.then(() => this._apply(final)).catch(() => undefined);
    }
    await this._chain;
  }

  private async _apply(models: readonly OutputModel[]): Promise<void> {
    const written = this._written;
    for (const op of planOutputSync(written?.map((w) => w.model), models)) {
      if (op.type === 'replaceAll' || written === undefined) {
        const outputs = models.map((m) => ({ model: m, output: toCellOutput(m) }));
        await this._execution.replaceOutput(outputs.map((o) => o.output));
        this._written = outputs;
        return;
      }
      if (op.type === 'replaceItems') {
        const { output } = written[op.index];
        const model = models[op.index];
        await this._execution.replaceOutputItems(model.items.map((it) => new vscode.NotebookCellOutputItem(it.data, it.mime)), output);
        written[op.index] = { model, output };
      } else {
        const added = models.slice(op.from).map((m) => ({ model: m, output: toCellOutput(m) }));
        await this._execution.appendOutput(added.map((a) => a.output));
        written.push(...added);
      }
    }
  }
}
