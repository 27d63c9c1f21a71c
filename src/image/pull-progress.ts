import type { SingleBar } from 'cli-progress';
import type { PullProgress } from './pull.js';

/**
 * What a pull shows while it runs, on stderr as podman prints it ("Copying blob …"):
 * on a terminal one bar per layer downloading (bytes, total, speed; the `cli-progress` package),
 * each replaced by one line when its layer is done; elsewhere (CI logs) only that line per layer.
 */
export interface PullReporter {
  onProgress(e: PullProgress): void;
  /** removes the bars (call on success and failure) */
  stop(): void;
}

const short = (digest: string) => digest.slice(digest.indexOf(':') + 1, digest.indexOf(':') + 13);

function mb(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}MB` : `${(n / 1e3).toFixed(1)}kB`;
}

export async function pullReporter(out: NodeJS.WriteStream, image: string): Promise<PullReporter> {
  const write = (line: string) => out.write(`${line}\n`);
  write(`Trying to pull ${image}...`);
  if (!out.isTTY) {
    return {
      onProgress(e) {
        if (e.kind === 'layer-done')
          write(`Copying blob ${short(e.digest)} ${e.cached ? 'skipped: already exists' : `done (${mb(e.total)})`}`);
      },
      stop() {},
    };
  }
  // Loaded on a terminal only: a pull in CI or in `run -d` needs none of it.
  const { MultiBar } = await import('cli-progress');
  const bars = new MultiBar(
    {
      stream: out,
      format: 'Copying blob {id} [{bar}] {done} / {all} {speed}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      autopadding: true,
      fps: 10,
    },
    { barCompleteChar: '=', barIncompleteChar: ' ', format: '' },
  );
  const active = new Map<string, { bar: SingleBar; start: number }>();
  return {
    onProgress(e) {
      if (e.kind === 'layer') {
        let a = active.get(e.digest);
        if (!a) {
          a = {
            bar: bars.create(e.total, 0, { id: short(e.digest), done: mb(0), all: mb(e.total), speed: '' }),
            start: Date.now(),
          };
          active.set(e.digest, a);
        }
        const secs = Math.max((Date.now() - a.start) / 1000, 0.001);
        a.bar.update(e.done, { done: mb(e.done), speed: `${mb(e.done / secs)}/s` });
      } else if (e.kind === 'layer-done') {
        const a = active.get(e.digest);
        if (a) {
          bars.remove(a.bar);
          active.delete(e.digest);
        }
        bars.log(`Copying blob ${short(e.digest)} ${e.cached ? 'skipped: already exists' : `done (${mb(e.total)})`}\n`);
      }
    },
    stop() {
      // bars.log only queues a line until the next redraw, and stop() clears without one: a layer done
      // just before the pull ended lost its line. Redraw once so the queue is written first.
      bars.update();
      bars.stop();
    },
  };
}
