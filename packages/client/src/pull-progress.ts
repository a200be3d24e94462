import type { Writable } from 'node:stream';
import type { ImagePullProgress, PullPhase } from '@arbor/core';

interface LayerState {
  phase: PullPhase;
  bytesDone: number;
  /** bytesTotal is -1 while the size is unknown. */
  bytesTotal: number;
}

/** PullTotals sum a pull's layers for one line of progress. */
export interface PullTotals {
  /** phase is the pull's: 'resolving' until layers are known, then 'downloading', 'committing', 'done'. */
  phase: PullPhase;
  layers: number;
  /** layersReady counts layers stored already, or downloaded and unpacked. */
  layersReady: number;
  bytesDone: number;
  /** bytesTotal sums the known sizes; sizeKnown says whether every layer's is. */
  bytesTotal: number;
  sizeKnown: boolean;
}

/**
 * PullProgressTracker folds ImagePullProgress events into totals: a layer's bytes count
 * once however many events it sends, and layers already stored count as done.
 */
export class PullProgressTracker {
  private readonly layers = new Map<string, LayerState>();
  private phase: PullPhase = 'resolving';

  update(progress: ImagePullProgress): void {
    if (progress.layer === '') {
      this.phase = progress.phase;
      return;
    }
    if (this.phase === 'resolving') this.phase = 'downloading';
    const previous = this.layers.get(progress.layer);
    const bytesTotal = progress.bytesTotal >= 0 ? progress.bytesTotal : (previous?.bytesTotal ?? -1);
    this.layers.set(progress.layer, { phase: progress.phase, bytesDone: Math.max(progress.bytesDone, previous?.bytesDone ?? 0), bytesTotal });
  }

  totals(): PullTotals {
    const totals: PullTotals = { phase: this.phase, layers: this.layers.size, layersReady: 0, bytesDone: 0, bytesTotal: 0, sizeKnown: true };
    for (const layer of this.layers.values()) {
      const ready = layer.phase === 'exists' || layer.phase === 'unpacked' || this.phase === 'committing' || this.phase === 'done';
      if (ready) totals.layersReady += 1;
      if (layer.bytesTotal < 0) {
        totals.sizeKnown = false;
        totals.bytesDone += layer.bytesDone;
        totals.bytesTotal += layer.bytesDone;
      } else {
        totals.bytesDone += ready ? layer.bytesTotal : Math.min(layer.bytesDone, layer.bytesTotal);
        totals.bytesTotal += layer.bytesTotal;
      }
    }
    return totals;
  }
}

/** formatBytes: 512 -> '512 B', 1536 -> '1.5 KiB', 7340032 -> '7.0 MiB'. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * fraction is how far the pull is, 0 to 1: bytes when every size is known, else layers;
 * 'done' is 1 whatever the bytes say.
 */
export function fraction(totals: PullTotals): number {
  if (totals.phase === 'done') return 1;
  if (totals.sizeKnown && totals.bytesTotal > 0) return Math.min(1, totals.bytesDone / totals.bytesTotal);
  return totals.layers > 0 ? totals.layersReady / totals.layers : 0;
}

/**
 * renderBar draws one line of at most width columns, like
 *   'docker://127.0.0.1:5000/app#v1 [########------------]  40% 3.2 MiB/8.0 MiB 1/4 layers'
 * shortening the label first when the line is too wide.
 */
export function renderBar(label: string, totals: PullTotals, width: number): string {
  const percent = `${Math.floor(fraction(totals) * 100)}%`.padStart(4);
  const bytes = totals.sizeKnown ? `${formatBytes(totals.bytesDone)}/${formatBytes(totals.bytesTotal)}` : formatBytes(totals.bytesDone);
  const tail =
    totals.phase === 'resolving'
      ? 'resolving'
      : totals.phase === 'committing'
        ? `${percent} committing`
        : `${percent} ${bytes} ${totals.layersReady}/${totals.layers} layers`;
  const barWidth = Math.max(10, Math.min(30, width - tail.length - 4 - Math.min(label.length, 20)));
  const filled = Math.round(fraction(totals) * barWidth);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]`;
  const room = width - bar.length - tail.length - 3;
  const shown = room <= 0 ? '' : label.length <= room ? label : `…${label.slice(label.length - room + 1)}`;
  return `${shown}${shown ? ' ' : ''}${bar} ${tail}`.slice(0, Math.max(0, width));
}

/** shortLayer: 'sha256:0123456789abcdef...' -> '0123456789ab', as docker shows layers. */
export function shortLayer(layer: string): string {
  return layer.replace(/^sha256:/, '').slice(0, 12);
}

/** describeEvent is a plain-text line for an event that is worth a line, or undefined. */
export function describeEvent(label: string, progress: ImagePullProgress): string | undefined {
  const size = progress.bytesTotal >= 0 ? ` (${formatBytes(progress.bytesTotal)})` : '';
  switch (progress.phase) {
    case 'resolving':
      return `${label}: resolving`;
    case 'waiting':
      return `${shortLayer(progress.layer)}: waiting${size}`;
    case 'exists':
      return `${shortLayer(progress.layer)}: already stored`;
    case 'downloading':
      return undefined;
    case 'unpacked':
      return `${shortLayer(progress.layer)}: downloaded, verified and unpacked (${formatBytes(progress.bytesDone)})`;
    case 'committing':
      return `${label}: committing`;
    case 'done': {
      const layers = progress.image?.layers ?? 0;
      return `${label}: done${progress.image?.id ? ` ${progress.image.id}` : ''}${layers > 0 ? ` (${layers} layers)` : ''}`;
    }
  }
}

/** ProgressOutput is where progress goes: a terminal redraws one bar, anything else gets lines. */
export interface ProgressOutput {
  stream: Writable | NodeJS.WriteStream;
  /** columns is the terminal's width; undefined when it is not a terminal. */
  columns: number | undefined;
}

/**
 * PullProgressView shows a pull: on a terminal one bar redrawn in place (at most every
 * redrawMs, and once more at the end), else one line per event worth a line.
 */
export class PullProgressView {
  private readonly tracker = new PullProgressTracker();
  private lastDraw = Number.NEGATIVE_INFINITY;
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly output: ProgressOutput,
    private readonly now: () => number = Date.now,
    private readonly redrawMs = 100,
  ) {}

  onProgress = (progress: ImagePullProgress): void => {
    this.tracker.update(progress);
    if (this.output.columns === undefined) {
      const line = describeEvent(this.label, progress);
      if (line !== undefined) this.output.stream.write(`${line}\n`);
      return;
    }
    const final = progress.phase === 'done';
    const now = this.now();
    if (!final && now - this.lastDraw < this.redrawMs) return;
    this.lastDraw = now;
    this.drawn = true;
    this.output.stream.write(`\r${renderBar(this.label, this.tracker.totals(), Math.max(20, this.output.columns - 1))}\x1b[K${final ? '\n' : ''}`);
    if (final) this.drawn = false;
  };

  /** finish ends a bar left mid-line (a failed pull), so the error starts on its own line. */
  finish(): void {
    if (this.drawn && this.output.columns !== undefined) this.output.stream.write('\n');
    this.drawn = false;
  }
}
