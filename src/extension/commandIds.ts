import type * as vscode from 'vscode';
import type { NotebookSessions } from '../notebook/sessions';
import type { PipelineSettings } from '../pipeline/settings';

/**
 * The extension's commands: the one list of their ids. package.json's `contributes.commands` names
 * exactly these (test/unit/extension/commandIds.test.ts checks it), and `activate`
 * (src/extension/extension.ts) registers one handler for each: {@link CommandHandlers} makes a
 * missing or unknown handler a type error. No `vscode` import at run time, so the test can read it.
 */
export const COMMANDS = {
  exportIpynb: 'alref.exportIpynb',
  exportHtml: 'alref.exportHtml',
  newNotebook: 'alref.newNotebook',
  insertPromptCell: 'alref.insertPromptCell',
  setApiKey: 'alref.setApiKey',
  clearApiKey: 'alref.clearApiKey',
  setLlmMode: 'alref.setLlmMode',
  modelsPull: 'alref.models.pull',
  modelsList: 'alref.models.list',
  modelsVerify: 'alref.models.verify',
  modelsCopyPath: 'alref.models.copyPath',
} as const;

export type CommandName = keyof typeof COMMANDS;

/** Not contributed (no palette entry): lets the in-host tests read what a cell's status bar shows. */
export const INTERNAL_COMMAND_CELL_STATUS_ITEMS = 'alref._cellStatusItems';

// Command arguments come from the palette (none), menus (a URI) or scripts and tests (anything).
export type CommandHandler = (...args: any[]) => unknown;

/** Handlers of some of the commands, keyed by name. */
export type CommandHandlers<K extends CommandName = CommandName> = Record<K, CommandHandler>;

/** What a group of command handlers receives from `activate`. */
export interface CommandDeps {
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  sessions: NotebookSessions;
  /** Current settings from `alref.*` configuration. */
  settings(): PipelineSettings;
}
