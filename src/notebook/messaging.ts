import { readFile, stat } from 'node:fs/promises';
import * as vscode from 'vscode';
import { isRendererToHostMessage } from '../common/messages';
import type { ApplyOverrideReply, ApplyOverrideRequest, HostToRendererMessage, OpenArtifactRequest, ReadArtifactRequest } from '../common/messages';
import { artifactMime, resolveArtifactPath } from '../pipeline/cells/artifactPath';
import { applyPivotOverride } from './overrides';
import type { NotebookSessions } from './sessions';

/** Renderers that may ask the host for run-folder artifacts (ids from package.json). */
const MESSAGING_RENDERERS = ['alref.frame-grid', 'alref.mask-overlay', 'alref.boxes', 'alref.audio-timeline', 'alref.reasoning-trace', 'alref.sweep-matrix', 'alref.pivot-view'] as const;

/** Largest artifact sent to a renderer in one message. */
const MAX_ARTIFACT_BYTES = 32 * 1024 * 1024;

/**
 * The host side of renderer messaging: answers `readArtifact` with the bytes (base64) of a file in
 * the notebook's run folder, opens a run-folder file in an editor for `openArtifact`, and answers
 * `applyOverride` by writing the pivot into the cell's YAML. A reference that leaves the run folder,
 * or any other message, gets an error reply (or a log line) or is ignored.
 */
function createRendererMessaging(id: string, sessions: NotebookSessions, log: vscode.LogOutputChannel): vscode.Disposable {
  const messaging = vscode.notebooks.createRendererMessaging(id);
  return messaging.onDidReceiveMessage(async ({ editor, message }) => {
    if (!isRendererToHostMessage(message)) {
      return;
    }
    if (message.type === 'openArtifact') {
      await openArtifact(message, editor, sessions).catch((err: unknown) => log.warn(`renderer ${id}: ${err instanceof Error ? err.message : String(err)}`));
      return;
    }
    const reply = message.type === 'applyOverride' ? await override(message, editor.notebook) : await answer(message, editor, sessions);
    if (!reply.ok) {
      log.warn(`renderer ${id}: ${reply.error}`);
    }
    await messaging.postMessage(reply, editor);
  });
}

async function answer(msg: ReadArtifactRequest, editor: vscode.NotebookEditor, sessions: NotebookSessions): Promise<HostToRendererMessage> {
  try {
    const uri = msg.notebookUri ? vscode.Uri.parse(msg.notebookUri) : editor.notebook.uri;
    const file = resolveArtifactPath(sessions.runDir(uri), msg.ref);
    const bytes = await readFile(file);
    if (bytes.byteLength > MAX_ARTIFACT_BYTES) {
      throw new Error(`Artifact "${msg.ref}" is ${bytes.byteLength} bytes, more than a renderer may load.`);
    }
    return { type: 'artifact', requestId: msg.requestId, ref: msg.ref, ok: true, base64: bytes.toString('base64'), mime: artifactMime(file) };
  } catch (err) {
    return { type: 'artifact', requestId: msg.requestId, ref: msg.ref, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Opens a run-folder file (confined like `readArtifact`) in an editor beside the notebook. */
async function openArtifact(msg: OpenArtifactRequest, editor: vscode.NotebookEditor, sessions: NotebookSessions): Promise<void> {
  const uri = msg.notebookUri ? vscode.Uri.parse(msg.notebookUri) : editor.notebook.uri;
  const file = resolveArtifactPath(sessions.runDir(uri), msg.ref);
  if (!(await stat(file)).isFile()) {
    throw new Error(`Artifact "${msg.ref}" is not a file.`);
  }
  await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(file), { viewColumn: vscode.ViewColumn.Beside, preview: true });
}

/** Writes a clicked pivot into its cell's `overrides:` (src/notebook/overrides.ts). */
async function override(msg: ApplyOverrideRequest, from: vscode.NotebookDocument): Promise<ApplyOverrideReply> {
  const about = { type: 'overrideApplied' as const, cellId: msg.cellId, clip: msg.clip, object: msg.object };
  try {
    await applyPivotOverride(msg, from);
    return { ...about, ok: true };
  } catch (err) {
    return { ...about, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** One messaging host per renderer that may load artifacts. */
export function registerRendererMessaging(sessions: NotebookSessions, log: vscode.LogOutputChannel): vscode.Disposable {
  return vscode.Disposable.from(...MESSAGING_RENDERERS.map((id) => createRendererMessaging(id, sessions, log)));
}
