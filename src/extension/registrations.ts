import type * as vscode from 'vscode';
import type { NotebookSessions } from '../notebook/sessions';
import type { PipelineSettings } from '../pipeline/settings';
import { registerLlmCommands } from './llmCommands';
import { registerModelCommands } from './modelCommands';

/** What a subsystem's registration receives from `activate`. */
export interface RegistrationDeps {
  log: vscode.LogOutputChannel;
  sessions: NotebookSessions;
  /** Current settings from `alref.*` configuration. */
  settings(): PipelineSettings;
}

/** Registers one subsystem's commands/providers; returns one Disposable (use `Disposable.from`). */
export type Registration = (context: vscode.ExtensionContext, deps: RegistrationDeps) => vscode.Disposable;

/**
 * ===== Subsystem registrations: the ONE place other subsystems hook into activation. =====
 * Add one import and one list entry, e.g. `import { registerLlmCommands } from './llmCommands';`
 * then `registerLlmCommands,` below. Each function must only construct and register (no heavy
 * work at activation).
 */
export const REGISTRATIONS: Registration[] = [
  registerLlmCommands,
  registerModelCommands,
];
