import * as vscode from 'vscode';
import type { CellLike } from '../pipeline/cells/notebook';
import type { CellModel, NotebookModel, OutputModel } from '../pipeline/format/model';
import { toCellOutput } from './executionOutputs';

export function fromCellOutput(output: vscode.NotebookCellOutput): OutputModel {
  const items = output.items.map((i) => ({ mime: i.mime, data: i.data }));
  return output.metadata && Object.keys(output.metadata).length > 0 ? { items, metadata: { ...output.metadata } } : { items };
}

/** Format model -> `NotebookData` (deserialize). The cell id travels in `metadata.id`. */
export function toNotebookData(model: NotebookModel): vscode.NotebookData {
  const cells = model.cells.map((c) => {
    const kind = c.kind === 'markdown' ? vscode.NotebookCellKind.Markup : vscode.NotebookCellKind.Code;
    const data = new vscode.NotebookCellData(kind, c.source, c.language);
    data.metadata = { ...c.metadata };
    if (c.kind === 'code') {
      data.outputs = c.outputs.map(toCellOutput);
      if (c.executionSummary) {
        data.executionSummary = { ...c.executionSummary };
      }
    }
    return data;
  });
  const nb = new vscode.NotebookData(cells);
  nb.metadata = structuredClone(model.metadata);
  return nb;
}

/** `NotebookData` -> format model (serialize). */
export function fromNotebookData(data: vscode.NotebookData): NotebookModel {
  const cells: CellModel[] = data.cells.map((c) => {
    const code = c.kind === vscode.NotebookCellKind.Code;
    const cell: CellModel = {
      kind: code ? 'code' : 'markdown',
      language: code ? c.languageId : 'markdown',
      source: c.value,
      metadata: { ...(c.metadata ?? {}) },
      outputs: code ? (c.outputs ?? []).map(fromCellOutput) : [],
    };
    if (code && c.executionSummary) {
      const s = c.executionSummary;
      cell.executionSummary = {
        executionOrder: s.executionOrder,
        success: s.success,
        timing: s.timing ? { startTime: s.timing.startTime, endTime: s.timing.endTime } : undefined,
      };
    }
    return cell;
  });
  return { cells, metadata: { ...(data.metadata ?? {}) } };
}

/** An open notebook as a plain model (for export). */
export function fromNotebookDocument(doc: vscode.NotebookDocument): NotebookModel {
  const data = new vscode.NotebookData(
    doc.getCells().map((cell) => {
      const d = new vscode.NotebookCellData(cell.kind, cell.document.getText(), cell.document.languageId);
      d.metadata = { ...cell.metadata };
      d.outputs = [...cell.outputs];
      d.executionSummary = cell.executionSummary;
      return d;
    }),
  );
  data.metadata = { ...doc.metadata };
  return fromNotebookData(data);
}

/** The id a cell carries in its metadata (assigned by the serializer or the id keeper). */
export function metadataId(cell: vscode.NotebookCell): string {
  const id = cell.metadata?.id;
  return typeof id === 'string' && id !== '' ? id : `cell-${cell.index + 1}`;
}

/** A notebook's cells as the pure runner sees them. */
export function cellLikes(doc: vscode.NotebookDocument): CellLike[] {
  return doc.getCells().map((c) => ({
    id: metadataId(c),
    language: c.kind === vscode.NotebookCellKind.Markup ? 'markdown' : c.document.languageId,
    source: c.document.getText(),
  }));
}
