import { spawnDetachedAndAwaitWord } from '../host/detached-child.js';
import { Option, type Command } from 'commander';
import { createWriteStream, mkdirSync, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { PodboxError } from '../errors.js';
import { pollUntil } from '../host/poll.js';
import { alive } from '../host/proc.js';
import { cliPath } from '../lifecycle/supervisor-client.js';
import { serve } from '../static/server.js';
import { ServeState } from '../static/serve-state.js';

/**
 * `podbox serve DIR [-d] [--keep-pods]`, `podbox serve --stop DIR` (docs/cli.md "Static pods"):
 * keeps a pod running for each manifest of DIR (static/server.ts).
 *
 *   podbox serve -d DIR ──spawn──▶ podbox serve DIR --notify-fd 3   (its own session; output to .serve-KEY/serve.log)
 *                       ◀── "ok\n"            DIR locked, the first pass under way
 *                       ◀── "error: LINE\n"   (DIR served already...): nothing left running
 *   prints how to stop it, exits 0 (or the error line, exit 1)
 */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('keep a pod running for each Pod manifest in DIR (static pods), until stopped')
    .argument('<dir>', 'the directory of manifests (*.yaml, *.yml, *.json; dotfiles ignored)')
    .option('-d, --detach', 'serve in the background (a process of yours, no system daemon); prints how to stop it')
    .option('--keep-pods', "on stop, leave DIR's pods running: a later serve of DIR adopts them")
    .option('--stop', 'stop the serve of DIR (as SIGTERM does) and wait until it has stopped')
    .addOption(new Option('--notify-fd <fd>').hideHelp())
    .action(async (dir: string, opts: ServeOptions) => {
      process.exitCode = await serveCommand(dir, opts);
    });
}

interface ServeOptions {
  detach?: boolean;
  keepPods?: boolean;
  stop?: boolean;
  notifyFd?: string;
}

async function serveCommand(given: string, opts: ServeOptions): Promise<number> {
  const dir = servedDir(given);
  const state = ServeState.of(dir);
  if (opts.stop) return stopServe(state);
  if (opts.detach) return detach(dir, state, opts);
  const notify = opts.notifyFd !== undefined ? Number(opts.notifyFd) : undefined;
  // In the background the lines go to the log file: each with its time.
  const log =
    notify === undefined
      ? (line: string) => process.stderr.write(`podbox serve: ${line}\n`)
      : (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  let stopped!: () => void;
  const stop = new Promise<void>((r) => (stopped = r));
  const onSignal = () => stopped();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await serve(dir, {
      keepPods: !!opts.keepPods,
      log,
      stop,
      ready: () => {
        if (notify !== undefined) tell(notify, 'ok');
      },
    });
  } catch (e) {
    if (notify === undefined || !(e instanceof PodboxError)) throw e;
    // `serve -d` prints it; the log is the running serve's (a second serve of DIR was refused).
    tell(notify, `error: ${e.toLine()}`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  log(`stopped serving ${dir}${opts.keepPods ? ': its pods are left running' : ''}`);
  return 0;
}

/** DIR as an absolute path with symlinks resolved: one directory, one name, one serve. */
function servedDir(given: string): string {
  let dir: string;
  try {
    dir = realpathSync(resolve(given));
    if (statSync(dir).isDirectory()) return dir;
  } catch {
    /* said below */
  }
  throw new PodboxError('InvalidArgument', `${given} is not a directory`, 'give the directory of your Pod manifests');
}

function tell(fd: number, word: string): void {
  try {
    createWriteStream('', { fd }).end(`${word}\n`);
  } catch {
    /* the starting command is gone */
  }
}

/** `serve -d`: the same command in its own session, its output into the log; returns once it said. */
async function detach(dir: string, state: ServeState, opts: ServeOptions): Promise<number> {
  mkdirSync(state.path, { recursive: true, mode: 0o700 });
  const { word, pid } = await spawnDetachedAndAwaitWord(
    [cliPath, 'serve', dir, '--notify-fd', '3', ...(opts.keepPods ? ['--keep-pods'] : [])],
    state.logFile,
  );
  if (word !== 'ok') {
    // The line of the serve that did not start, as `run -d` prints its supervisor's.
    const line = word.startsWith('error: ') ? word.slice('error: '.length) : `podbox serve ${dir} did not start`;
    process.stderr.write(`podbox: ${line}${word.startsWith('error: ') ? '' : `: see ${state.logFile}`}\n`);
    return 1;
  }
  process.stdout.write(
    `serving ${dir} in the background (pid ${pid}); log: ${state.logFile}\n` +
      `stop it with: podbox serve --stop ${dir}   (add --keep-pods when starting it to leave the pods running)\n`,
  );
  return 0;
}

/** `serve --stop DIR`: SIGTERM to the serve holding DIR's lock, then wait for it to stop (its pods deleted). */
async function stopServe(state: ServeState): Promise<number> {
  const pid = state.servingPid();
  if (pid === undefined)
    throw new PodboxError(
      'InvalidArgument',
      `${state.dir} is not served`,
      'start serving it with `podbox serve -d DIR`',
    );
  process.kill(pid, 'SIGTERM');
  // Its pods are deleted gracefully first: as long as their grace periods.
  if (!(await pollUntil(() => !alive(pid), 15 * 60_000, 50)))
    throw new PodboxError('Timeout', `podbox serve (pid ${pid}) of ${state.dir} did not stop`, `kill it: kill ${pid}`);
  process.stdout.write(`stopped serving ${state.dir}\n`);
  return 0;
}
