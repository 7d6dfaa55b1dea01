import * as vscode from 'vscode';
import { parseNotebook, serializeNotebook } from '../pipeline/format';
import { fromNotebookData, toNotebookData } from './convert';

/**
 * `.alref` <-> VS Code notebook: a thin adapter over `src/pipeline/format`. A file that cannot be
 * read throws (VS Code then shows the error and never saves over the file); an empty file opens as
 * an empty notebook. Outputs are part of the file: a notebook is an experiment record.
 */
export class AlrefNotebookSerializer implements vscode.NotebookSerializer {
  private readonly _decoder = new TextDecoder('utf-8');
  private readonly _encoder = new TextEncoder();

  deserializeNotebook(content: Uint8Array, _token: vscode.CancellationToken): vscode.NotebookData {
    return toNotebookData(parseNotebook(this._decoder.decode(content)));
  }

  serializeNotebook(data: vscode.NotebookData, _token: vscode.CancellationToken): Uint8Array {
    return this._encoder.encode(serializeNotebook(fromNotebookData(data)));
  }
}

/** Serializer options: outputs and metadata are saved (not transient). */
export const SERIALIZER_OPTIONS: vscode.NotebookDocumentContentOptions = {
  transientOutputs: false,
  transientCellMetadata: {},
  transientDocumentMetadata: {},
};
