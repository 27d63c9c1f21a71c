import type { Pod } from '../api/types.js';
import { parseGoDuration } from '../kubectl/duration.js';
import { PodboxError } from '../errors.js';

/**
 * How a foreground `podbox run` may end before its pod does, for CI jobs:
 *  - `--timeout DURATION`: the pod is deleted gracefully once DURATION has passed since the run
 *    started (pulls included), and the run exits 124, as coreutils' timeout(1) does;
 *  - `--exit-code-from NAME`: the run ends when app container NAME first terminates, and exits with
 *    its exit code, as `docker compose up --exit-code-from` does (compose's up.go: the first
 *    container of that service to exit stops the others).
 * Either deletes the pod as a first Ctrl-C does (lifecycle/run-signals.ts): preStop hooks, the stop
 * signal, the grace period, SIGKILL. Whichever comes first decides the exit status.
 */
export interface RunEnding {
  timeoutMs?: number;
  exitCodeFrom?: string;
}

/** The exit status of a run ended by `--timeout` (coreutils timeout.c: EXIT_TIMEDOUT). */
export const TIMEOUT_EXIT = 124;

/** Checks the flags against the pod before anything is made; throws the one line that says what is wrong. */
export function runEnding(pod: Pod, o: { timeout?: string; exitCodeFrom?: string; detach?: boolean }): RunEnding {
  const name = pod.metadata.name;
  if (o.detach && (o.timeout !== undefined || o.exitCodeFrom !== undefined)) {
    const flag = o.timeout !== undefined ? '--timeout' : '--exit-code-from';
    throw new PodboxError(
      'InvalidArgument',
      `${flag} ends a foreground run, and -d does not wait for pod "${name}"`,
      `leave out -d, or bound a detached pod with \`podbox wait ${name} --timeout=...\` and \`podbox delete ${name}\``,
    );
  }
  const ending: RunEnding = {};
  if (o.timeout !== undefined) {
    const ms = parseGoDuration(o.timeout);
    if (ms === undefined || ms <= 0) {
      throw new PodboxError(
        'InvalidArgument',
        `--timeout "${o.timeout}" is not a positive duration`,
        'give one as kubectl does: 90s, 5m, 1h30m, 500ms',
      );
    }
    ending.timeoutMs = ms;
  }
  if (o.exitCodeFrom !== undefined) {
    const apps = pod.spec.containers.map((c) => c.name);
    if (!apps.includes(o.exitCodeFrom)) {
      const init = (pod.spec.initContainers ?? []).some((c) => c.name === o.exitCodeFrom);
      throw new PodboxError(
        'InvalidArgument',
        init
          ? `--exit-code-from "${o.exitCodeFrom}": that is an init container of pod "${name}", not an app container`
          : `--exit-code-from "${o.exitCodeFrom}": pod "${name}" has no app container of that name`,
        `name one of its app containers: ${apps.join(', ')}`,
      );
    }
    ending.exitCodeFrom = o.exitCodeFrom;
  }
  return ending;
}

/**
 * The hooks of a foreground run (pod/launch.ts ForegroundOptions) that end it as `ending` says:
 * `ending` arms the timeout once the run catches signals, `exited` is told each container's
 * termination; the run is ended at most once.
 */
export function runEndingHooks(ending: RunEnding): {
  exited: (container: string, exitCode: number) => void;
  ending: (end: (exit: number) => void) => () => void;
} {
  let ended = false;
  let endRun: ((exit: number) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const once = (exit: number) => {
    if (ended || !endRun) return;
    ended = true;
    endRun(exit);
  };
  return {
    exited(container, exitCode) {
      if (container === ending.exitCodeFrom) once(exitCode);
    },
    ending(end) {
      endRun = end;
      if (ending.timeoutMs !== undefined) timer = setTimeout(() => once(TIMEOUT_EXIT), ending.timeoutMs);
      return () => {
        ended = true;
        if (timer) clearTimeout(timer);
      };
    },
  };
}
