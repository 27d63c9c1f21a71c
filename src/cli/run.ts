import type { Command } from 'commander';
import { manifestFrom } from '../api/manifest.js';
import { holdsWorkloads, planOf, readSources } from '../workload/plan.js';
import { deletePod } from '../pod/delete.js';
import { startDetached, runForeground } from '../pod/launch.js';
import { launchRequest, thisProcess } from '../pod/dir.js';
import { podSettingsFromEnv } from '../lifecycle/pod-settings.js';
import { notEnforcedWarning } from '../cgroup/pod-limits.js';
import { networkModeOf } from '../sandbox/network.js';
import { onPodNetwork, preparePodNetwork } from '../sandbox/pod-bridge.js';
import { stateDirs } from '../paths.js';
import { podIdMapping } from '../sandbox/idmap.js';
import { checkIdsMapped } from '../sandbox/mapped-ids.js';
import { containerLogPolicy } from '../logs/log-file.js';
import { pullReporter, type PullReporter } from '../image/pull-progress.js';
import type { PullProgress } from '../image/pull.js';
import { pullSecretsOf } from '../registry/pull-secrets.js';
import { runEnding, runEndingHooks } from '../lifecycle/run-deadline.js';
import { lineWriter, runReport } from './run-output.js';
import { traceFormat, traceWriter } from '../host/trace.js';
import { PodboxError } from '../errors.js';

/**
 * `podbox run FILE [-d] [--keep] [--replace] [--network MODE]` (docs/cli.md). The pod's life is pod/launch.ts's:
 * the user's supervisor (lifecycle/user-supervisor.ts, `podbox __supervisor`, started on demand)
 * supervises it; a foreground run follows it to its end, -d returns once it is created.
 */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a v1/Pod manifest (YAML or JSON; - reads stdin), or workloads (a Job) and the pods of files')
    // [file]: `--trace FILE` gives FILE to --trace, whose format is optional (see traceOption); -f names it too.
    .argument('[file]', 'the manifest')
    .option('-f, --filename <path>', 'the manifest, or a directory of them (*.yaml, *.yml, *.json, by name)')
    .option('-d, --detach', 'return once the pod is created; it is kept until `podbox delete`')
    .option('--keep', 'keep a finished foreground pod, with its status and logs, until `podbox delete`')
    .option('--replace', 'delete a pod of the same name first')
    .option('--network <mode>', "the pod's network: pasta (default), slirp4netns or none (loopback only)")
    .option('--timeout <duration>', 'delete the pod gracefully after DURATION (90s, 5m) and exit 124')
    .option('--exit-code-from <name>', 'end the run when app container NAME ends, and exit with its code')
    .option('--timestamps', "prefix each line of the containers' output with the time it came")
    .option('--summary', 'say when podbox waits on a grace period, and end with a summary line (on stderr)')
    .option('--no-summary', 'neither (the default is to, on a terminal and where CI is set)')
    .option('--trace [format]', 'print every kernel step podbox takes, as it happens, on stderr (format: text, json)')
    .action(async (file: string | undefined, opts: RunOptions, command: Command) => {
      const manifest = traceOption(file, opts);
      if (manifest === undefined && opts.filename === undefined)
        command.error("error: missing required argument 'file'", { code: 'commander.missingArgument' });
      process.exitCode = await run(manifest, opts);
    });
}

interface RunOptions {
  filename?: string;
  detach?: boolean;
  keep?: boolean;
  replace?: boolean;
  network?: string;
  timeout?: string;
  exitCodeFrom?: string;
  timestamps?: boolean;
  summary?: boolean;
  trace?: string | boolean;
}

/**
 * `--trace` takes an optional format, so `run --trace pod.yaml` parses pod.yaml as its format:
 * a value that is no format is the manifest. Returns the manifest's file name.
 */
function traceOption(file: string | undefined, opts: RunOptions): string | undefined {
  if (typeof opts.trace !== 'string' || ['text', 'json'].includes(opts.trace)) return file;
  if (file !== undefined) {
    throw new PodboxError('InvalidArgument', `--trace: unknown format "${opts.trace}"`, 'use --trace or --trace=json');
  }
  const manifest = opts.trace;
  opts.trace = true;
  return manifest;
}

async function run(file: string | undefined, opts: RunOptions): Promise<number> {
  if (file !== undefined && opts.filename !== undefined)
    throw new PodboxError(
      'InvalidArgument',
      `both ${file} and -f ${opts.filename} given`,
      'give one: FILE, or -f FILE|DIR',
    );
  const sources = readSources((file ?? opts.filename)!);
  // Workloads (workload/kinds.ts), or several pods: made in apply order (cli/run-workloads.ts).
  if (sources.length !== 1 || holdsWorkloads(sources)) {
    const { runWorkloads } = await import('./run-workloads.js');
    return runWorkloads(await planOf(sources), opts, podSettings(opts));
  }
  const manifest = manifestFrom(sources[0]!.docs, sources[0]!.where);
  // A bad --network or annotation is refused before anything is made.
  const mode = networkModeOf(manifest.pod, opts.network ?? process.env.PODBOX_NETWORK);
  const ending = runEnding(manifest.pod, opts);
  // A bad PODBOX_CONTAINER_LOG_MAX_* is refused now, not at each container start.
  containerLogPolicy();
  checkIdsMapped(manifest.pod, podIdMapping);
  if (opts.replace) await deletePod(manifest.pod.metadata.name, { missingOk: true });
  // Images are the supervisor's to find or pull, container by container (lifecycle/image-pulls.ts).
  const request = launchRequest(manifest, new Map(), !opts.detach && !opts.keep);
  request.pullSecrets = pullSecretsOf(manifest);
  request.settings = podSettings(opts);
  const format = traceFormat(opts.trace ?? process.env.PODBOX_TRACE);
  const trace = format ? traceWriter(format) : undefined;
  // A foreground run is most often its pod's supervisor too (pod/launch.ts): its pod network is made
  // meanwhile, and used if this process creates the pod (not when traced: a trace shows every step in
  // its pod's order).
  if (!opts.detach && !format && onPodNetwork(mode))
    preparePodNetwork(stateDirs().pods, `pod "${manifest.pod.metadata.name}"`);
  const notEnforced = notEnforcedWarning(manifest.pod, request.settings);
  if (notEnforced) process.stderr.write(`podbox: ${notEnforced}\n`);
  if (!opts.detach) {
    request.foreground = thisProcess();
    const pulls = pullDisplays();
    const echo = lineWriter(manifest.pod, { timestamps: opts.timestamps });
    const report = runReport(manifest.pod, opts);
    try {
      const code = await runForeground(request, {
        echo: (container, stream, text) => {
          // podbox's own line about a container (a pull failed): no bar stays drawn above it.
          if (stream === 'stderr' && text.startsWith('podbox: ')) pulls.stop();
          echo(container, stream, text);
        },
        fail: (line) => process.stderr.write(`podbox: ${line}\n`),
        progress: (image, p) => pulls.progress(image, p),
        stopping: report.stopping,
        finished: report.finished,
        ...runEndingHooks(ending),
        trace,
      });
      report.summarize(code);
      return code;
    } finally {
      pulls.stop();
    }
  }
  const error = await startDetached(request, trace);
  if (error) {
    process.stderr.write(`podbox: ${error}\n`);
    return 1;
  }
  process.stdout.write(`${manifest.pod.metadata.name}\n`);
  return 0;
}

/** The PODBOX_* settings (lifecycle/pod-settings.ts) a pod takes from this run. */
function podSettings(opts: RunOptions): Record<string, string> {
  const settings = podSettingsFromEnv();
  if (opts.network) settings.PODBOX_NETWORK = opts.network;
  return settings;
}

/**
 * The pulls of a foreground pod, shown on stderr as `podbox image pull` shows one
 * (image/pull-progress.ts): bars on a terminal, a line per layer otherwise; each pull's display
 * ends with its last layer.
 */
function pullDisplays(): { progress(image: string, p: PullProgress): void; stop(): void } {
  const shown = new Map<string, { reporter: Promise<PullReporter>; layers?: number; done: number }>();
  const end = (image: string) => {
    void shown.get(image)?.reporter.then((r) => r.stop());
    shown.delete(image);
  };
  return {
    progress(image, p) {
      let s = shown.get(image);
      if (!s) shown.set(image, (s = { reporter: pullReporter(process.stderr, image), done: 0 }));
      if (p.kind === 'resolved') s.layers = p.layers;
      if (p.kind === 'layer-done') s.done += 1;
      void s.reporter.then((r) => r.onProgress(p));
      if (s.layers !== undefined && s.done >= s.layers) end(image);
    },
    stop() {
      for (const image of [...shown.keys()]) end(image);
    },
  };
}
