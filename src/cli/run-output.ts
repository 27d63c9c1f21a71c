import type { Pod } from '../api/types.js';
import type { PodStatus, ContainerStatus } from '../api/status.js';
import { allContainers } from '../api/containers.js';
import type { LogStream } from '../logs/cri-log.js';
import { humanDuration } from '../kubectl/duration.js';

/**
 * What a foreground `podbox run` prints besides its containers' lines, made to read well in a CI
 * log as on a terminal: each line prefixed by its container's name padded to the longest (as
 * docker compose aligns its service prefixes), colour only where colour is wanted, optional
 * timestamps, a line when podbox waits on a grace period, and a one-line summary at the end.
 */

/** Escape codes for the prefixes, one per container in spec order (as compose cycles its colours). */
const COLOURS = [36, 33, 32, 35, 34, 31];

/**
 * Whether to colour what goes to `out`, as Node's tty.getColorDepth decides it: FORCE_COLOR (set and
 * not "0"/"false") forces it, NO_COLOR (https://no-color.org: set and not empty) forbids it,
 * otherwise a terminal that is not "dumb" gets it.
 */
export function colourWanted(out: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  if (env.NO_COLOR) return false;
  return !!out.isTTY && env.TERM !== 'dumb';
}

const paint = (on: boolean, code: number, text: string) => (on ? `\x1b[${code}m${text}\x1b[0m` : text);

export interface LineOptions {
  /** prefix each line with the time it arrived, RFC 3339 (`run --timestamps`) */
  timestamps?: boolean;
  now?: () => Date;
}

/**
 * Prints container output as `name | line`, the names padded to the longest of the pod's
 * containers, coloured by container where colour is wanted; `name | TIME line` with timestamps
 * (the order `docker compose logs -t` uses).
 */
export function lineWriter(
  pod: Pod,
  o: LineOptions = {},
  streams: Record<LogStream, NodeJS.WriteStream> = { stdout: process.stdout, stderr: process.stderr },
): (container: string, stream: LogStream, text: string) => void {
  const names = allContainers(pod).map((c) => c.name);
  const width = Math.max(...names.map((n) => n.length));
  const now = o.now ?? (() => new Date());
  return (container, stream, text) => {
    const out = streams[stream];
    const colour = COLOURS[Math.max(0, names.indexOf(container)) % COLOURS.length]!;
    const prefix = paint(colourWanted(out), colour, `${container.padEnd(width)} |`);
    const time = o.timestamps ? `${now().toISOString()} ` : '';
    out.write(`${prefix} ${time}${text}\n`);
  };
}

/** "stopping db: SIGTERM sent, waiting up to 30s": podbox waits on a grace period, and says so. */
export function stoppingLine(container: string, signal: string, graceSeconds: number): string | undefined {
  if (graceSeconds <= 0) return undefined;
  return `stopping ${container}: ${signal} sent, waiting up to ${graceSeconds}s`;
}

/**
 * The last line of a foreground run: the pod's phase and the run's exit status, then each
 * container's last exit code, how long that run of it lasted and its restarts, e.g.
 *   pod "ci" Succeeded in 5s (exit 0): db exited 143 after 4s, 0 restarts; tests exited 0 after 3s, 0 restarts
 */
export function summaryLine(
  pod: Pod,
  status: PodStatus,
  o: { exitCode: number; elapsedMs: number; colour: boolean },
): string {
  const byName = new Map<string, ContainerStatus>();
  for (const c of [...(status.initContainerStatuses ?? []), ...status.containerStatuses]) byName.set(c.name, c);
  const parts = allContainers(pod).map((spec, i) => {
    const name = paint(o.colour, COLOURS[i % COLOURS.length]!, spec.name);
    const c = byName.get(spec.name);
    const restarts = `${c?.restartCount ?? 0} restart${c?.restartCount === 1 ? '' : 's'}`;
    const last = c?.lastState as { terminated?: { exitCode: number; startedAt?: string; finishedAt: string } };
    const t = c && ('terminated' in c.state ? c.state.terminated : last.terminated);
    if (!t) return `${name} ${c && 'running' in c.state ? 'still running' : 'never ran'}, ${restarts}`;
    const code = paint(o.colour, t.exitCode === 0 ? 32 : 31, String(t.exitCode));
    const ran = t.startedAt ? ` after ${humanDuration(Date.parse(t.finishedAt) - Date.parse(t.startedAt))}` : '';
    return `${name} exited ${code}${ran}, ${restarts}`;
  });
  const exit = paint(o.colour, o.exitCode === 0 ? 32 : 31, `exit ${o.exitCode}`);
  const head = `pod "${pod.metadata.name}" ${status.phase} in ${humanDuration(o.elapsedMs)} (${exit})`;
  return `${head}: ${parts.join('; ')}`;
}

/**
 * Whether the grace-period lines and the summary are printed: `--summary`/`--no-summary`, else on a
 * terminal and in CI jobs (CI is set by GitHub Actions, GitLab CI and most others), where a log is read later.
 */
export function summaryWanted(flag: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (flag !== undefined) return flag;
  const ci = env.CI;
  return (ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0') || !!process.stderr.isTTY;
}

/**
 * What a foreground run prints about its pod besides the lines (pod/launch.ts ForegroundOptions):
 * the grace-period lines as they come, and `summarize(exitCode)` at the end, when wanted (summaryWanted).
 */
export function runReport(
  pod: Pod,
  o: { summary?: boolean },
): {
  stopping: (container: string, signal: string, graceSeconds: number) => void;
  finished: (status: PodStatus) => void;
  summarize: (exitCode: number) => void;
} {
  const began = Date.now();
  const wanted = summaryWanted(o.summary);
  let last: PodStatus | undefined;
  return {
    stopping(container, signal, graceSeconds) {
      const line = wanted ? stoppingLine(container, signal, graceSeconds) : undefined;
      if (line) process.stderr.write(`podbox: ${line}\n`);
    },
    finished: (status) => (last = status),
    summarize(exitCode) {
      if (!wanted || !last) return;
      const colour = colourWanted(process.stderr);
      const line = summaryLine(pod, last, { exitCode, elapsedMs: Date.now() - began, colour });
      process.stderr.write(`podbox: ${line}\n`);
    },
  };
}
