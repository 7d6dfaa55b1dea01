import type { RendererContext } from 'vscode-notebook-renderer';
import { type ApplyOverrideRequest, isOverrideReply } from '../../common/messages';
import type { PivotViewPayload, PivotViewRow } from '../../common/payloads';
import { artifactReader } from '../lib/artifacts';
import { el as element } from '../lib/dom';

/*
 * DOM of the pivot-view renderer: the per-clip change list since the previous run, then one row per
 * object x clip: the clip's grid (pivot-frame) or the pivot frame with its numbered candidate boxes
 * (pivot-box), loaded from the run folder through `readArtifact`, and the facts (chosen frame or box,
 * validity, tokens, overridden, change, note) with the trace in a <details>. With messaging, a click
 * on a tile makes that frame the clip's pivot, a click on a box chooses it, and a drag on the frame
 * draws a new box: each posts `applyOverride` and the host writes it into the cell's `overrides:`.
 * Everything is built with textContent: traces and notes are data.
 */

export interface PivotView {
  root: HTMLElement;
  dispose(): void;
}

/** Why a payload cannot be drawn, or undefined when it can. */
export function checkPivotViewPayload(payload: unknown): string | undefined {
  if (payload === null || typeof payload !== 'object') {
    return 'This pivot view has no payload.';
  }
  const p = payload as Partial<PivotViewPayload>;
  if (p.version !== 1) {
    return `This pivot view was written in payload version ${String(p.version)}; this version of AL-Ref Notebooks reads version 1. Update the extension.`;
  }
  if ((p.stage !== 'pivot-frame' && p.stage !== 'pivot-box') || typeof p.cellId !== 'string' || !Array.isArray(p.rows)) {
    return 'This pivot view payload lacks its stage, cell id or rows.';
  }
  return undefined;
}

/** Draws an inline error box (never throws). */
export function renderPivotViewError(host: HTMLElement, message: string): void {
  const box = host.ownerDocument.createElement('div');
  box.className = 'alref-pv-error-box';
  box.setAttribute('role', 'alert');
  box.textContent = message;
  host.replaceChildren(box);
}

function pct(v: number, of: number): string {
  return `${((100 * v) / of).toFixed(4)}%`;
}


/** The frame id of a frame index in the row's clip (`[3]`), or the index alone. */
function frameText(row: PivotViewRow): string {
  if (row.frameIndex === null) {
    return 'no valid frame';
  }
  const k = row.frames.indexOf(row.frameIndex);
  return `frame ${row.frameIndex}${k >= 0 ? ` (id [${k + 1}])` : ''}`;
}

/** Builds the view into `host`. */
export function renderPivotView(host: HTMLElement, payload: PivotViewPayload, ctx: RendererContext<unknown>): PivotView {
  const doc = host.ownerDocument;
  const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] => element(doc, tag, cls, text);
  const root = el('div', 'alref-pv');
  root.dataset.stage = payload.stage;
  root.dataset.cellId = payload.cellId;
  const status = el('div', 'alref-pv-status');
  status.setAttribute('role', 'status');
  const reader = artifactReader(ctx, 'pv');
  const urls: string[] = [];
  const replies = ctx.onDidReceiveMessage?.((m) => {
    if (isOverrideReply(m) && m.cellId === payload.cellId) {
      status.classList.toggle('alref-pv-error', !m.ok);
      status.textContent = m.ok
        ? `Override written into cell "${m.cellId}" (object ${m.object}, clip ${m.clip}): overrides: in its YAML. Run the cell again; the cells after it are stale until then.`
        : `Could not write the override: ${m.error}`;
    }
  });
  const canOverride = reader.canRead;

  const override = (row: PivotViewRow, what: Pick<ApplyOverrideRequest, 'frameIndex' | 'candidate' | 'box'>): void => {
    const msg: ApplyOverrideRequest = { type: 'applyOverride', cellId: payload.cellId, object: row.objectId, clip: row.clip, ...what };
    status.classList.remove('alref-pv-error');
    status.textContent = `Writing the override for object ${row.objectId}, clip ${row.clip} into cell "${payload.cellId}"…`;
    ctx.postMessage?.(msg);
  };

  if (payload.changes) {
    const box = el('div', 'alref-pv-changes');
    box.append(el('strong', undefined, 'Since the previous run:'));
    const ul = el('ul');
    payload.changes.forEach((c) => ul.append(el('li', undefined, c)));
    box.append(ul);
    root.append(box);
  }
  const hint = payload.stage === 'pivot-frame' ? 'Click a tile to make it the pivot frame of its clip.' : 'Click a box to choose it, or drag on the frame to draw a new one.';
  root.append(el('div', 'alref-pv-hint', canOverride ? hint : 'Open this notebook in VS Code with AL-Ref Notebooks to override pivots by clicking.'), status);

  for (const row of payload.rows) {
    const r = el('div', `alref-pv-row${row.valid ? '' : ' alref-pv-invalid'}`);
    r.dataset.object = String(row.objectId);
    r.dataset.clip = String(row.clip);
    const media = el('div', 'alref-pv-media');
    const facts = el('div', 'alref-pv-facts');
    r.append(media, facts);

    const art = payload.stage === 'pivot-frame' ? row.grid : row.frame;
    if (art) {
      const img = el('img');
      img.alt = payload.stage === 'pivot-frame' ? `Grid of clip ${row.clip}` : `Pivot frame ${row.frameIndex} of clip ${row.clip}`;
      img.width = art.width;
      img.height = art.height;
      img.draggable = false;
      media.append(img);
      if (reader.canRead) {
        reader.read(art.ref, art.mime ?? 'image/jpeg').then(
          (url) => {
            urls.push(url);
            img.src = url;
          },
          (err: Error) => (img.alt = `${img.alt} (cannot load ${art.ref}: ${err.message})`),
        );
      } else {
        img.alt = `${img.alt} (${art.ref} in the run folder)`;
      }
    }
    if (payload.stage === 'pivot-frame' && row.grid) {
      const g = row.grid;
      for (const tile of g.tiles) {
        const b = el('button', 'alref-pv-tile');
        b.type = 'button';
        if (tile.frameIndex === row.frameIndex) {
          b.classList.add('alref-pv-chosen');
        }
        b.style.left = pct(tile.x, g.width);
        b.style.top = pct(tile.y, g.height);
        b.style.width = pct(tile.width, g.width);
        b.style.height = pct(tile.height, g.height);
        b.dataset.frameIndex = String(tile.frameIndex);
        b.dataset.clip = String(row.clip);
        b.dataset.object = String(row.objectId);
        b.title = `Frame id ${tile.frameId} · frame ${tile.frameIndex}${canOverride ? ' · click to make it the pivot of this clip' : ''}`;
        b.disabled = !canOverride;
        b.addEventListener('click', () => override(row, { frameIndex: tile.frameIndex }));
        media.append(b);
      }
    }
    if (payload.stage === 'pivot-box' && row.frame) {
      const f = row.frame;
      for (const c of row.candidates ?? []) {
        const b = el('button', 'alref-pv-box');
        b.type = 'button';
        if (c.number === row.chosen) {
          b.classList.add('alref-pv-chosen');
        }
        b.style.left = pct(c.box.x0, f.width);
        b.style.top = pct(c.box.y0, f.height);
        b.style.width = pct(c.box.x1 - c.box.x0, f.width);
        b.style.height = pct(c.box.y1 - c.box.y0, f.height);
        b.style.borderColor = c.colour;
        b.dataset.candidate = String(c.number);
        b.title = `Box ${c.number} (${c.source}, score ${c.score.toFixed(2)})${canOverride ? ' · click to choose it' : ''}`;
        b.disabled = !canOverride;
        const badge = el('span', undefined, String(c.number));
        badge.style.background = c.colour;
        b.append(badge);
        b.addEventListener('click', () => override(row, { candidate: c.number }));
        media.append(b);
      }
      if (canOverride) {
        dragToDraw(media, f, (box) => override(row, { box }));
      }
    }

    facts.append(el('div', 'alref-pv-title', `Object ${row.objectId} · clip ${row.clip}`));
    facts.append(el('div', undefined, payload.stage === 'pivot-frame' ? `Pivot: ${frameText(row)}` : `Frame ${row.frameIndex}: ${row.chosen ? `box ${row.chosen}` : 'no box chosen'}`));
    if (payload.stage === 'pivot-box' && row.chosen) {
      const c = row.candidates?.find((k) => k.number === row.chosen);
      if (c) {
        facts.append(el('div', undefined, `[${[c.box.x0, c.box.y0, c.box.x1, c.box.y1].map((v) => Math.round(v)).join(', ')}]`));
      }
    }
    const verdict = el('div', 'alref-pv-verdict', row.valid ? `valid${row.answer ? ` · answer ${row.answer}` : ''}` : `INVALID${row.answer ? ` · answer ${row.answer}` : ''}`);
    facts.append(verdict);
    if (row.overridden) {
      facts.append(el('span', 'alref-pv-badge alref-pv-overridden', 'overridden'));
    }
    if (row.tokens) {
      facts.append(el('div', undefined, `${row.tokens.prompt} + ${row.tokens.completion} tokens`));
    }
    if (row.change) {
      facts.append(el('div', 'alref-pv-change', `changed: ${row.change}`));
    }
    if (row.note) {
      facts.append(el('div', 'alref-pv-hint', row.note));
    }
    if (row.trace) {
      const d = el('details', 'alref-pv-trace');
      d.append(el('summary', undefined, 'Trace'), el('pre', undefined, row.trace));
      facts.append(d);
    }
    root.append(r);
  }
  host.replaceChildren(root);
  return {
    root,
    dispose: () => {
      reader.dispose();
      replies?.dispose();
      urls.forEach((u) => URL.revokeObjectURL(u));
    },
  };
}

/** Least size in frame pixels of a dragged box (smaller drags are clicks). */
const MIN_DRAG_PX = 4;

/**
 * A drag on the frame (not starting on a box) draws a rectangle; on release, `done` gets it in the
 * frame's pixels (`frame.width` x `frame.height`), clamped to the frame.
 */
function dragToDraw(media: HTMLElement, frame: { width: number; height: number }, done: (box: [number, number, number, number]) => void): void {
  const doc = media.ownerDocument;
  let start: { x: number; y: number } | undefined;
  let rect: HTMLElement | undefined;
  const at = (ev: MouseEvent): { x: number; y: number } => {
    const r = media.getBoundingClientRect();
    const w = r.width > 0 ? r.width : frame.width;
    const h = r.height > 0 ? r.height : frame.height;
    const clamp = (v: number, hi: number): number => Math.min(hi, Math.max(0, v));
    return { x: clamp(((ev.clientX - r.left) / w) * frame.width, frame.width), y: clamp(((ev.clientY - r.top) / h) * frame.height, frame.height) };
  };
  media.addEventListener('mousedown', (ev) => {
    if ((ev.target as HTMLElement).closest('.alref-pv-box') || ev.button !== 0) {
      return;
    }
    ev.preventDefault();
    start = at(ev);
    rect = doc.createElement('div');
    rect.className = 'alref-pv-drag';
    media.append(rect);
  });
  media.addEventListener('mousemove', (ev) => {
    if (!start || !rect) {
      return;
    }
    const p = at(ev);
    rect.style.left = pct(Math.min(start.x, p.x), frame.width);
    rect.style.top = pct(Math.min(start.y, p.y), frame.height);
    rect.style.width = pct(Math.abs(p.x - start.x), frame.width);
    rect.style.height = pct(Math.abs(p.y - start.y), frame.height);
  });
  const finish = (ev: MouseEvent): void => {
    if (!start) {
      return;
    }
    const p = at(ev);
    const s = start;
    start = undefined;
    rect?.remove();
    rect = undefined;
    const box: [number, number, number, number] = [Math.min(s.x, p.x), Math.min(s.y, p.y), Math.max(s.x, p.x), Math.max(s.y, p.y)].map((v) => Math.round(v)) as [number, number, number, number];
    if (box[2] - box[0] >= MIN_DRAG_PX && box[3] - box[1] >= MIN_DRAG_PX) {
      done(box);
    }
  };
  media.addEventListener('mouseup', finish);
  media.addEventListener('mouseleave', (ev) => {
    if (start) {
      finish(ev);
    }
  });
}
