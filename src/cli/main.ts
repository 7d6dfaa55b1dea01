#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { CLI_COMMANDS } from './commands';
import { packageVersion } from './env';
import { receivedStopSignal } from './signals';

/** Builds the `alref` program with every registered subcommand (exported for tests). */
export function buildProgram(): Command {
  const program = new Command('alref')
    .description('AL-Ref Notebooks: run audio- and language-referenced video object segmentation notebooks (.alref) headless.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride();
  for (const register of CLI_COMMANDS) {
    register(program);
  }
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed.
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`alref: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
  if (receivedStopSignal() !== undefined) {
    // Stopped by SIGINT / SIGTERM / SIGHUP: the command has cleaned up and set 128 + the signal's
    // number; exit now rather than wait for idle handles (HTTP keep-alive, model sessions).
    process.exit(process.exitCode);
  }
}

if (require.main === module) {
  void main(process.argv);
}
