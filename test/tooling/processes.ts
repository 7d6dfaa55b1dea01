/**
 * Process and file-system observations for cancel and signal tests: no sleeps as synchronisation,
 * only waiting for something observable (a file, a process, a line of output).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Whether a process exists (`kill(pid, 0)`; ESRCH means gone). Zombies count as alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether `pid` is gone: `process.kill(pid, 0)` throws ESRCH. */
export function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Parent pid and command name of a process from /proc (Linux); undefined when it is gone. */
function statOf(pid: number): { ppid: number; comm: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const ppid = Number(text.slice(close + 2).split(' ')[1]);
    return { ppid, comm };
  } catch {
    return undefined;
  }
}

/** Every descendant of `pid` (children, grandchildren ...) with its command name, from /proc. */
export function descendants(pid: number): Array<{ pid: number; comm: string }> {
  const all: Array<{ pid: number; ppid: number; comm: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (/^\d+$/.test(name)) {
      const st = statOf(Number(name));
      if (st) {
        all.push({ pid: Number(name), ...st });
      }
    }
  }
  const out: Array<{ pid: number; comm: string }> = [];
  const walk = (p: number): void => {
    for (const c of all) {
      if (c.ppid === p) {
        out.push({ pid: c.pid, comm: c.comm });
        walk(c.pid);
      }
    }
  };
  walk(pid);
  return out;
}

/** Descendant processes of `pid` whose command name starts with `ffmpeg` or `ffprobe`. */
export function ffmpegDescendants(pid: number): number[] {
  return descendants(pid).filter((d) => /^ff(mpeg|probe)/.test(d.comm)).map((d) => d.pid);
}

/**
 * Waits until `check` returns a value other than undefined/null/false, checking every few
 * milliseconds; `what` names the wait in the error. The test's time-out is what bounds a wait; the
 * loop itself gives up after `giveUpMs` (5 minutes) only so that a wait left behind by a timed-out
 * test cannot keep the test process alive for ever.
 */
export async function waitFor<T>(check: () => T | undefined | null | false, what: string, stop?: () => string | undefined, giveUpMs = 300_000): Promise<T> {
  const giveUpAt = Date.now() + giveUpMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== null && v !== false) {
      return v;
    }
    const why = stop?.() ?? (Date.now() > giveUpAt ? `still not there after ${giveUpMs / 1000} s` : undefined);
    if (why !== undefined) {
      throw new Error(`gave up waiting for ${what}: ${why}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Paths (relative to `dir`) of every entry under `dir` whose name holds `.tmp` (temporary files and folders). */
export function tempEntries(dir: string): string[] {
  if (!existsSync(dir)) {
    return [];
  }
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (/\.tmp/.test(e.name)) {
        out.push(path.relative(dir, p));
      }
      if (e.isDirectory()) {
        walk(p);
      }
    }
  };
  walk(dir);
  return out;
}

/** The first frame file written into a temporary decode folder under `<runDir>/frames`, if any. */
export function firstTempFrame(runDir: string): string | undefined {
  const frames = path.join(runDir, 'frames');
  if (!existsSync(frames)) {
    return undefined;
  }
  for (const name of readdirSync(frames)) {
    if (name.includes('.tmp-')) {
      try {
        const jpg = readdirSync(path.join(frames, name)).find((n) => /^\d+\.jpg$/.test(n));
        if (jpg) {
          return path.join(frames, name, jpg);
        }
      } catch {
        // removed meanwhile
      }
    }
  }
  return undefined;
}
