import * as vscode from 'vscode';
import { decodeNotebookBytes, describeInvalidUtf8, parseNotebook, serializeNotebook } from '../pipeline/format';
import { fromNotebookData, toNotebookData } from './convert';

/**
 * `.alref` <-> VS Code notebook: a thin adapter over `src/pipeline/format`. A file that cannot be
 * read throws (VS Code then shows the error and never saves over the file); an empty file opens as
 * an empty notebook. Outputs are part of the file: a notebook is an experiment record. A file with
 * bytes that are not valid UTF-8 opens with a warning that names the cell: they show as U+FFFD,
 * and saving writes U+FFFD in their place.
 */
export class AlrefNotebookSerializer implements vscode.NotebookSerializer {
  private readonly _encoder = new TextEncoder();

  deserializeNotebook(content: Uint8Array, _token: vscode.CancellationToken): vscode.NotebookData {
    const { text, invalidUtf8 } = decodeNotebookBytes(content);
    const data = toNotebookData(parseNotebook(text));
    if (invalidUtf8) {
      void vscode.window.showWarningMessage(
        `An AL-Ref notebook being opened ${describeInvalidUtf8(invalidUtf8)}. They show as \u{FFFD}; saving the notebook writes U+FFFD in their place. Close it without saving to keep the file as it is.`,
      );
    }
    return data;
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
