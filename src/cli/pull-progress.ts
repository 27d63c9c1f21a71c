import { MultiBar, type SingleBar } from 'cli-progress';
import type { PullProgress } from '../image/pull.js';

/**
 * How a foreground `podbox run` shows the pulls of its pod (docs/cli.md): on a terminal, a bar per
 * layer with bytes, total and speed, gone once the layer is done; otherwise one line per layer
 * done, as `docker pull` prints them ("Pull complete", "Already exists").
 */
export interface PullDisplay {
  progress(image: string, p: PullProgress): void;
  /** clears what is drawn (before the pod's own output, and at the end) */
  stop(): void;
}

export function pullDisplay(out: NodeJS.WriteStream = process.stderr): PullDisplay {
  return out.isTTY ? new TerminalDisplay(out) : new LineDisplay(out);
}

const short = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

class LineDisplay implements PullDisplay {
  constructor(private readonly out: NodeJS.WriteStream) {}

  progress(image: string, p: PullProgress): void {
    if (p.kind !== 'layer-done') return;
    const what = p.cached ? 'Already exists' : `Pull complete (${humanBytes(p.total)})`;
    this.out.write(`${image}: ${short(p.digest)}: ${what}\n`);
  }

  stop(): void {}
}

class TerminalDisplay implements PullDisplay {
  private bars?: MultiBar;
  private readonly layers = new Map<string, { bar: SingleBar; since: number }>();

  constructor(private readonly out: NodeJS.WriteStream) {}

  progress(image: string, p: PullProgress): void {
    if (p.kind === 'resolved') return;
    const key = `${image} ${p.digest}`;
    if (p.kind === 'layer-done') {
      const layer = this.layers.get(key);
      if (layer) this.bars?.remove(layer.bar);
      this.layers.delete(key);
      if (this.layers.size === 0) this.stop();
      return;
    }
    this.bars ??= new MultiBar({
      stream: this.out,
      clearOnComplete: true,
      hideCursor: true,
      format: '{image} {layer} [{bar}] {have} / {size} {speed}',
      barsize: 24,
    });
    let layer = this.layers.get(key);
    if (!layer) {
      const payload = { image, layer: short(p.digest), have: '0 B', size: humanBytes(p.total), speed: '' };
      layer = { bar: this.bars.create(Math.max(p.total, 1), 0, payload), since: Date.now() };
      this.layers.set(key, layer);
    }
    const seconds = (Date.now() - layer.since) / 1000;
    const speed = seconds > 0 ? `${humanBytes(p.done / seconds)}/s` : '';
    layer.bar.update(p.done, { have: humanBytes(p.done), size: humanBytes(p.total), speed });
  }

  stop(): void {
    this.bars?.stop();
    this.bars = undefined;
    this.layers.clear();
  }
}

/** Bytes as `podman` prints sizes (go-units HumanSize: decimal units, 3 significant digits). */
function humanBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${Number(n.toPrecision(3))} ${units[i]}`;
}
