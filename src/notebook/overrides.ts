import * as vscode from 'vscode';
import type { ApplyOverrideRequest } from '../common/messages';
import { STAGE_LANGUAGE } from '../common/mime';
import { effectiveCellId } from '../pipeline/cells/notebook';
import { type PivotOverrideEntry, setPivotOverride } from '../pipeline/cells/overrideYaml';
import { peekStageCell } from '../pipeline/cells/parse';
import { cellLikes } from './convert';

/** The `overrides:` entry a renderer's request asks for, and the stage kind it belongs in. */
function entryOf(msg: ApplyOverrideRequest): { kind: 'pivot-frame' | 'pivot-box'; entry: PivotOverrideEntry } {
  const base = { clip: msg.clip, object: msg.object };
  if (msg.frameIndex !== undefined) {
    return { kind: 'pivot-frame', entry: { ...base, frame: msg.frameIndex } };
  }
  if (msg.candidate !== undefined) {
    return { kind: 'pivot-box', entry: { ...base, candidate: msg.candidate } };
  }
  const b = (msg.box ?? [0, 0, 0, 0]).map((v) => Math.round(v)) as [number, number, number, number];
  return { kind: 'pivot-box', entry: { ...base, box: b } };
}

/**
 * Writes a pivot chosen in a renderer (a clicked tile or box, a dragged box) into the `overrides:`
 * of its cell, through a workspace edit (so it is undoable, marks the notebook dirty and is saved
 * with it). The notebook must be open, the cell a stage cell of the matching kind (pivot-frame for
 * a frame, pivot-box for a candidate or a box). The cell's text changes, so the status bar shows it
 * and the cells downstream of it as stale until they run again. `from`: the notebook of the editor the message came from (used when the message names none). Throws with a message naming the
 * cell on any mismatch; the stage checks the values themselves when the cell runs.
 */
export async function applyPivotOverride(msg: ApplyOverrideRequest, from?: vscode.NotebookDocument): Promise<void> {
  const notebook = msg.notebookUri === undefined ? from : vscode.workspace.notebookDocuments.find((d) => d.uri.toString() === msg.notebookUri);
  if (!notebook) {
    throw new Error(`The notebook ${msg.notebookUri ?? '(of the message)'} is not open.`);
  }
  const likes = cellLikes(notebook);
  const index = likes.findIndex((c) => c.language === STAGE_LANGUAGE && effectiveCellId(c) === msg.cellId);
  if (index < 0) {
    throw new Error(`The notebook has no stage cell with id "${msg.cellId}".`);
  }
  const { kind, entry } = entryOf(msg);
  const cell = notebook.cellAt(index);
  const source = cell.document.getText();
  const actual = peekStageCell(source).kind;
  if (actual !== kind) {
    throw new Error(`Cell "${msg.cellId}" is a ${actual ?? 'cell of unknown kind'} cell; this override belongs in a ${kind} cell.`);
  }
  const text = setPivotOverride(source, entry);
  if (text === source) {
    return;
  }
  const edit = new vscode.WorkspaceEdit();
  const doc = cell.document;
  edit.replace(doc.uri, new vscode.Range(doc.positionAt(0), doc.positionAt(source.length)), text);
  if (!(await vscode.workspace.applyEdit(edit))) {
    throw new Error(`VS Code refused the edit of cell "${msg.cellId}".`);
  }
}
