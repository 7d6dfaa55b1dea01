/**
 * Mask-overlay playback at the video's frame rate: every animation frame, the frame due by the clock
 * is drawn when it is decoded; one that is not ready yet is skipped (dropped), never waited for, so a
 * slow load costs pictures, not speed.
 */

/** Time and animation frames (the webview's `performance.now` and `requestAnimationFrame`; a fake in tests). */
export interface FrameClock {
  now(): number;
  requestFrame(cb: () => void): number;
  cancelFrame(id: number): void;
}

/** The webview's clock; `setTimeout` at about 60 Hz where there is no `requestAnimationFrame`. */
export function webviewClock(win: Window | null): FrameClock {
  const w = win ?? undefined;
  if (w && typeof w.requestAnimationFrame === 'function') {
    return { now: () => w.performance.now(), requestFrame: (cb) => w.requestAnimationFrame(() => cb()), cancelFrame: (id) => w.cancelAnimationFrame(id) };
  }
  return {
    now: () => performance.now(),
    requestFrame: (cb) => setTimeout(cb, 16) as unknown as number,
    cancelFrame: (id) => clearTimeout(id as unknown as ReturnType<typeof setTimeout>),
  };
}

/** Rate used when the payload has none (outputs written before it carried one). */
const DEFAULT_FPS = 10;
/** Highest rate played. */
const MAX_FPS = 120;

/** Playback rate of a payload: the video's own frame rate. */
export function playbackFps(fps: number | undefined): number {
  return typeof fps === 'number' && Number.isFinite(fps) && fps > 0 ? Math.min(MAX_FPS, fps) : DEFAULT_FPS;
}

/** The frame due `elapsedMs` after playing from frame `from` at `fps`, looping over `frameCount` frames. */
export function clockFrame(from: number, elapsedMs: number, fps: number, frameCount: number): number {
  return (from + Math.floor((Math.max(0, elapsedMs) * fps) / 1000 + 1e-9)) % frameCount;
}

/** What playback needs from the overlay. */
export interface PlaybackHooks {
  /** Whether frame i can be drawn now. */
  isReady(i: number): boolean;
  /** Draws frame i (it is ready). */
  draw(i: number): void;
  /** Starts loading the frames after i. */
  prefetch(i: number): void;
}

/** Counts of the current (or last) play: clock steps, frames drawn, frames skipped because not ready. */
export interface PlaybackStats {
  fps: number;
  steps: number;
  drawn: number;
  dropped: number;
}

export class Playback {
  private _handle: number | undefined;
  private _from = 0;
  private _t0 = 0;
  private _target = 0;
  private _last = -1;
  private _steps = 0;
  private _drawn = 0;

  constructor(
    private readonly _clock: FrameClock,
    readonly fps: number,
    private readonly _frameCount: number,
    private readonly _hooks: PlaybackHooks,
  ) {}

  get playing(): boolean {
    return this._handle !== undefined;
  }

  get stats(): PlaybackStats {
    return { fps: this.fps, steps: this._steps, drawn: this._drawn, dropped: this._steps - this._drawn };
  }

  /** Plays from frame `from` (shown now): the next frame is due one frame period later. */
  start(from: number): void {
    this.stop();
    this._from = from;
    this._target = from;
    this._last = from;
    this._steps = 0;
    this._drawn = 0;
    this._t0 = this._clock.now();
    this._hooks.prefetch(from);
    this._handle = this._clock.requestFrame(() => this._tick());
  }

  stop(): void {
    if (this._handle !== undefined) {
      this._clock.cancelFrame(this._handle);
      this._handle = undefined;
    }
  }

  private _tick(): void {
    const n = this._frameCount;
    const due = clockFrame(this._from, this._clock.now() - this._t0, this.fps, n);
    if (due !== this._target) {
      this._steps += (due - this._target + n) % n;
      this._target = due;
      this._hooks.prefetch(due);
    }
    if (this._last !== due && this._hooks.isReady(due)) {
      this._last = due;
      this._drawn++;
      this._hooks.draw(due);
    }
    // draw() may have stopped playback
    if (this._handle !== undefined) {
      this._handle = this._clock.requestFrame(() => this._tick());
    }
  }
}
