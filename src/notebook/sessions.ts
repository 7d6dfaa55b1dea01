import { createHash } from 'node:crypto';
import path from 'node:path';
import * as vscode from 'vscode';
import { ExperimentRecorder } from '../pipeline/cells/record';
import { runDirFor } from '../pipeline/run/runFolder';
import { NotebookSession } from '../pipeline/session';
import type { Services } from '../pipeline/services';

/** Per open notebook: its session, its run queue and the services built for its settings. */
export interface NotebookState {
  readonly uri: string;
  readonly session: NotebookSession;
  /** Every run of this notebook chains onto this, so cells of one notebook run strictly in order. */
  queue: Promise<void>;
  executionOrder: number;
  services?: { key: string; value: Services };
  /** Prompt cell outcomes and model checksums for the experiment record (the CLI keeps the same). */
  readonly recorder: ExperimentRecorder;
}

/**
 * Sessions by notebook URI, created on first use and dropped when VS Code closes the notebook.
 * Fires `onDidChange` with the notebook URI whenever a run changes a session (status bar refresh).
 */
export class NotebookSessions implements vscode.Disposable {
  private readonly _states = new Map<string, NotebookState>();
  private readonly _onDidChange = new vscode.EventEmitter<string>();
  readonly onDidChange = this._onDidChange.event;
  private readonly _subscription: vscode.Disposable;

  constructor(private readonly _storageDir: string) {
    this._subscription = vscode.workspace.onDidCloseNotebookDocument((doc) => {
      const key = doc.uri.toString();
      const state = this._states.get(key);
      if (state) {
        state.session.clear();
        this._states.delete(key);
      }
    });
  }

  get(doc: vscode.NotebookDocument): NotebookState {
    const key = doc.uri.toString();
    let state = this._states.get(key);
    if (!state) {
      state = { uri: key, session: new NotebookSession(), queue: Promise.resolve(), executionOrder: 0, recorder: new ExperimentRecorder() };
      this._states.set(key, state);
    }
    return state;
  }

  find(uri: vscode.Uri | string): NotebookState | undefined {
    return this._states.get(typeof uri === 'string' ? uri : uri.toString());
  }

  changed(uri: string): void {
    this._onDidChange.fire(uri);
  }

  /**
   * The notebook's run folder: `<file>.runs` next to a saved notebook; under extension storage for
   * an untitled or remote-scheme one.
   */
  runDir(uri: vscode.Uri): string {
    if (uri.scheme === 'file') {
      return runDirFor(uri.fsPath);
    }
    const id = createHash('sha256').update(uri.toString()).digest('hex').slice(0, 16);
    return path.join(this._storageDir, 'runs', id);
  }

  /** Folder relative paths in cells resolve against: the notebook's folder (or the workspace's). */
  baseDir(uri: vscode.Uri): string {
    if (uri.scheme === 'file') {
      return path.dirname(uri.fsPath);
    }
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? this._storageDir;
  }

  dispose(): void {
    this._subscription.dispose();
    this._onDidChange.dispose();
    for (const s of this._states.values()) {
      s.session.clear();
    }
    this._states.clear();
  }
}
