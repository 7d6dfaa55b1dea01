import type { Command } from 'commander';
import { registerNotebookCommand } from './notebook';
import { registerModelsCommand } from './models';
import { registerRunCommand } from './run';
import { registerEvalCommand } from './eval';
import { registerScoreCommand } from './score';
import { registerMergeCommand } from './merge';
import { registerPropagateCommand } from './propagate';

/** Adds one subcommand (and its options and action) to the `alref` program. */
export type CliRegistration = (program: Command) => void;

/**
 * ===== CLI subcommands: the ONE list other subsystems add to. =====
 * Write `src/cli/commands/<name>.ts` exporting `register<Name>Command(program)`, then add one import
 * and one entry here. Actions should set `process.exitCode` (or throw) rather than call
 * `process.exit`, so output is flushed.
 */
export const CLI_COMMANDS: CliRegistration[] = [
  registerNotebookCommand,
  registerModelsCommand,
  registerRunCommand,
  registerEvalCommand,
  registerScoreCommand,
  registerMergeCommand,
  registerPropagateCommand,
];
