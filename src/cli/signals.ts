import { killTrackedChildren, trackedChildrenExited } from '../pipeline/media/children';

/**
 * Stop signals of the CLI. SIGINT (Ctrl-C), SIGTERM (`timeout`, Slurm, Kubernetes, `kill`) and
 * SIGHUP (the terminal closed) all do the same:
 *
 * 1. the first one aborts the running command through its AbortSignal; the command waits for the
 *    cleanup (ffmpeg children killed and exited, temporary folders removed, nothing half-written)
 *    and the process exits with 128 + the signal's number: 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP);
 * 2. a second one sends SIGKILL to every ffmpeg child still running and exits with the same code as
 *    soon as they are reaped (at most 2 s later; a third signal exits at once). Temporary folders it
 *    leaves are removed by the next run.
 */

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** Exit code after a stop signal: 128 + its number. */
const SIGNAL_EXIT_CODES: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

let firstReceived: StopSignal | undefined;

/** The first stop signal this process received (undefined when none). */
export function receivedStopSignal(): StopSignal | undefined {
  return firstReceived;
}

export interface Interrupt {
  /** Fires on the first stop signal. */
  readonly signal: AbortSignal;
  /** Removes the handlers; when a stop signal came, sets `process.exitCode` to its exit code. */
  dispose(): void;
}

/**
 * Installs the stop-signal handlers for one command (see module comment). Call `dispose()` in the
 * command's `finally`, after the command has waited for its cleanup.
 */
export function interruptSignal(): Interrupt {
  const ac = new AbortController();
  let received: StopSignal | undefined;
  let forcing = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    const name = sig as StopSignal;
    if (received === undefined) {
      received = name;
      firstReceived ??= name;
      process.stderr.write(`\nalref: ${name} received: stopping and cleaning up (send it again to exit at once).\n`);
      ac.abort(new Error(`${name} received`));
      return;
    }
    const code = SIGNAL_EXIT_CODES[received];
    if (forcing) {
      // a third signal: no more waiting
      process.exit(code);
    }
    forcing = true;
    const killed = killTrackedChildren();
    process.stderr.write(`alref: second ${name}: exiting now${killed > 0 ? ` (killed ${killed} ffmpeg process${killed === 1 ? '' : 'es'})` : ''}.\n`);
    // Exit once the killed children are reaped (at most 2 s), so none is left even as a zombie.
    void trackedChildrenExited(2000).then(() => process.exit(code));
  };
  for (const s of STOP_SIGNALS) {
    process.on(s, onSignal);
  }
  return {
    signal: ac.signal,
    dispose: () => {
      for (const s of STOP_SIGNALS) {
        process.off(s, onSignal);
      }
      if (received !== undefined) {
        process.exitCode = SIGNAL_EXIT_CODES[received];
      }
    },
  };
}
