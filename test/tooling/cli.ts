/**
 * Runs `alref` subcommands in-process (the real program of src/cli/main.ts), capturing stdout,
 * stderr and the exit code the command set.
 */
import { buildProgram } from '../../src/cli/main';

export interface CliResult {
  stdout: string;
  stderr: string;
  code: number;
}

export async function runAlref(args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  const saved = process.exitCode;
  process.exitCode = 0;
  process.stdout.write = ((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  }) as typeof process.stderr.write;
  try {
    await buildProgram().parseAsync(['node', 'alref', ...args]);
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = saved;
  return { stdout, stderr, code };
}
