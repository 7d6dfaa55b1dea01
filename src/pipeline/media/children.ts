import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Child processes (ffmpeg) this process has started and that still run, so they die with it.
 *
 * - Cancel: the code that started a child kills it (SIGTERM, then SIGKILL) and waits for its exit.
 * - Forced exit (a second Ctrl-C / SIGTERM in the CLI): {@link killTrackedChildren} sends SIGKILL to
 *   every child still running, and the CLI exits once they are reaped ({@link trackedChildrenExited},
 *   bounded), so none is left behind, not even as a zombie.
 * - This process killed with SIGKILL (no handler runs): each tracked child has a watchdog, a tiny
 *   `/bin/sh` reading a pipe from this process. When this process dies the pipe closes, `read`
 *   returns and the watchdog kills the child. Not on Windows.
 */

interface Tracked {
  kill(signal: NodeJS.Signals): void;
  watchdog?: ChildProcess;
}

const live = new Map<number, Tracked>();

/** Whether watchdogs are used (POSIX with /bin/sh). */
const WATCHDOG = process.platform !== 'win32';

function startWatchdog(pid: number): ChildProcess | undefined {
  if (!WATCHDOG) {
    return undefined;
  }
  try {
    // `$0` is the child's pid. `read` returns at EOF, i.e. when this process is gone.
    const dog = spawn('/bin/sh', ['-c', 'read _ ; kill -KILL "$0" 2>/dev/null', String(pid)], { stdio: ['pipe', 'ignore', 'ignore'], windowsHide: true });
    dog.on('error', () => undefined);
    dog.stdin?.on('error', () => undefined);
    return dog;
  } catch {
    return undefined;
  }
}

/**
 * Registers a running child; returns the function to call once it has exited (stops its watchdog
 * without letting it kill anything).
 */
export function trackChild(pid: number, kill: (signal: NodeJS.Signals) => void): () => void {
  const entry: Tracked = { kill, watchdog: startWatchdog(pid) };
  live.set(pid, entry);
  return () => {
    if (live.get(pid) === entry) {
      live.delete(pid);
    }
    // SIGKILL: the shell dies without running its `kill`.
    entry.watchdog?.kill('SIGKILL');
  };
}


/**
 * Sends SIGKILL to every tracked child (a forced exit); returns how many were signalled. They stay
 * tracked until their `exit` event (the child reaped), which {@link trackedChildrenExited} waits for.
 */
export function killTrackedChildren(): number {
  let n = 0;
  for (const [pid, entry] of live) {
    try {
      entry.kill('SIGKILL');
      n++;
    } catch {
      // already gone
      live.delete(pid);
    }
  }
  return n;
}

/**
 * Resolves once every tracked child has exited and been reaped, or after `timeoutMs`. A process
 * that exits without it would leave killed children as zombies for whoever adopts them.
 */
export function trackedChildrenExited(timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const check = (): void => {
      if (live.size === 0 || Date.now() >= until) {
        resolve();
        return;
      }
      setTimeout(check, 10);
    };
    check();
  });
}
