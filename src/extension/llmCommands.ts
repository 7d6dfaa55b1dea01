import * as vscode from 'vscode';
import { NOTEBOOK_TYPE } from '../common/mime';
import { NOTEBOOK_LLM_MODE_KEY } from '../pipeline/cells/settingsMerge';
import type { CommandDeps, CommandHandlers } from './commandIds';

/** SecretStorage key of the API key; `createServices` reads it as `alref.<secret name>`. */
const API_KEY_SECRET = 'alref.openai-api-key';

const MODES = ['live', 'record', 'replay'] as const;

/**
 * Commands of the LLM subsystem: set and clear the API key (VS Code SecretStorage only; the key is
 * never shown, logged or written to a notebook), and choose the notebook's LLM mode
 * (`metadata.alref.llmMode`: live, record or replay).
 */
export function llmCommands(deps: CommandDeps): CommandHandlers<'setApiKey' | 'clearApiKey' | 'setLlmMode'> {
  const { context } = deps;
  return {
    // An optional string argument (scripts, tests) stores that key without prompting.
    setApiKey: async (value?: unknown) => {
      const endpoint = deps.settings().llm.baseUrl || 'https://api.openai.com/v1';
      const given = typeof value === 'string' && value.trim() !== '' ? value : undefined;
      const key = given ?? await vscode.window.showInputBox({
        title: vscode.l10n.t('AL-Ref: API key'),
        prompt: vscode.l10n.t('API key for {0} (stored in VS Code Secret Storage, never in notebooks)', endpoint),
        password: true,
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim() === '' ? vscode.l10n.t('The key is empty.') : undefined),
      });
      if (key === undefined) {
        return;
      }
      await context.secrets.store(API_KEY_SECRET, key.trim());
      deps.log.info('An LLM API key was stored in Secret Storage.');
      void vscode.window.showInformationMessage(vscode.l10n.t('AL-Ref: API key saved in Secret Storage.'));
    },
    clearApiKey: async () => {
      await context.secrets.delete(API_KEY_SECRET);
      deps.log.info('The LLM API key was removed from Secret Storage.');
      void vscode.window.showInformationMessage(vscode.l10n.t('AL-Ref: API key removed.'));
    },
    setLlmMode: async (mode?: string) => {
      const editor = vscode.window.activeNotebookEditor;
      if (!editor || editor.notebook.notebookType !== NOTEBOOK_TYPE) {
        void vscode.window.showErrorMessage(vscode.l10n.t('Open an AL-Ref notebook to set its LLM mode.'));
        return;
      }
      const current = (editor.notebook.metadata?.alref as Record<string, unknown> | undefined)?.[NOTEBOOK_LLM_MODE_KEY];
      const chosen =
        mode && (MODES as readonly string[]).includes(mode)
          ? mode
          : await vscode.window.showQuickPick(
              MODES.map((m) => ({
                label: m,
                description: m === current ? vscode.l10n.t('current') : undefined,
                detail:
                  m === 'live'
                    ? vscode.l10n.t('Call the LLM; store nothing.')
                    : m === 'record'
                      ? vscode.l10n.t('Answer requests already recorded in the run folder next to the notebook from there; call the LLM for the others and store them.')
                      : vscode.l10n.t('Use only stored exchanges: no network, no API key.'),
              })),
              { title: vscode.l10n.t('AL-Ref: LLM mode of this notebook') },
            ).then((p) => p?.label);
      if (!chosen) {
        return;
      }
      const metadata = { ...(editor.notebook.metadata ?? {}) };
      metadata.alref = { ...((metadata.alref as Record<string, unknown> | undefined) ?? {}), [NOTEBOOK_LLM_MODE_KEY]: chosen };
      const edit = new vscode.WorkspaceEdit();
      edit.set(editor.notebook.uri, [vscode.NotebookEdit.updateNotebookMetadata(metadata)]);
      await vscode.workspace.applyEdit(edit);
    },
  };
}
