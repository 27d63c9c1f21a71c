import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * `podbox run --trace` and PODBOX_TRACE (docs/cli.md "Tracing"): every kernel step podbox and its
 * helpers take, said as it happens, in words and with the real values. A step is said by the
 * module that takes it, one call each:
 *
 *   trace()?.step('mount', `overlay on ${target}: ...`, { pid, detail: { lowerdir, upperdir } });
 *
 * trace() is undefined when nobody traces, and `?.` then skips the call and its arguments: a step
 * costs one boolean test when tracing is off. Whose trace a step belongs to is the async context
 * it runs in: the user's supervisor runs many pods in one process, so a pod's work runs in its own
 * tracer's context (traced, from the pod's supervisor), which its events go out of over the
 * supervisor protocol to the `podbox run --trace` that asked; a command's own steps (exec, enter,
 * delete with PODBOX_TRACE) go to the process's tracer, which prints them on stderr.
 */
export type TraceStep =
  | 'userns'
  | 'idmap'
  | 'ns'
  | 'pause'
  | 'mount'
  | 'unmount'
  | 'network'
  | 'bundle'
  | 'drop'
  | 'runc'
  | 'started'
  | 'signal'
  | 'exited'
  | 'released'
  | 'remove';

/** One step, as `--trace=json` prints it (one object a line; these keys are stable). */
export interface TraceEvent {
  /** when, in milliseconds since the epoch */
  ts: number;
  step: TraceStep;
  /** the sentence a person reads */
  text: string;
  pod?: string;
  container?: string;
  /** the host pid of the process that took the step or that it concerns */
  pid?: number;
  /** a namespace's type (user, mnt, pid, net, ipc, uts, cgroup) and inode, for a step about one */
  ns?: string;
  inode?: number;
  /** the step's other values (id map ranges, mount options, capabilities...) */
  detail?: Record<string, unknown>;
}

export type TraceValues = Omit<TraceEvent, 'ts' | 'step' | 'text' | 'pod'>;

export class Tracer {
  /** on: whether anyone listens now (a pod's tracer outlives its listeners: `run -d --trace` stops at created) */
  constructor(
    private readonly out: (e: TraceEvent) => void,
    readonly pod?: string,
    readonly on: () => boolean = () => true,
  ) {}

  step(step: TraceStep, text: string, values: TraceValues = {}): void {
    this.out({ ts: Date.now(), step, text, ...(this.pod ? { pod: this.pod } : {}), ...values });
  }

  /** A step another process took and said (the supervisor's, to a command that traces). */
  forward(e: TraceEvent): void {
    this.out(e);
  }
}

/** null: explicitly not traced (a pod without a tracer, inside a process whose tracer is another's). */
const context = new AsyncLocalStorage<Tracer | null>();
let processTracer: Tracer | undefined;
/** Set once any tracer exists: until then trace() is one test of this flag. */
let anyTracer = false;

/** The tracer of the step being taken, or undefined when it is not traced. */
export function trace(): Tracer | undefined {
  if (!anyTracer) return undefined;
  const t = context.getStore();
  const chosen = t === undefined ? processTracer : t;
  return chosen?.on() ? chosen : undefined;
}

/**
 * Runs fn, and everything it starts (its promises, timers), as traced by t; as not traced when t is
 * undefined (a pod of a process that traces another pod). Costs nothing while nobody traces.
 */
export function traced<T>(t: Tracer | undefined, fn: () => T): T {
  if (t) {
    anyTracer = true;
    return context.run(t, fn);
  }
  if (anyTracer) return context.run(null, fn);
  return fn();
}

/** The tracer of this process's own steps (a command run with PODBOX_TRACE). */
export function traceProcess(t: Tracer): void {
  anyTracer = true;
  processTracer = t;
}

export type TraceFormat = 'text' | 'json';

/**
 * `--trace`, `--trace=json`, PODBOX_TRACE=1|text|json; undefined for off (unset, empty, 0, false).
 * Anything else is text: a learner who writes PODBOX_TRACE=yes wants to see it.
 */
export function traceFormat(value: string | boolean | undefined): TraceFormat | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return 'text';
  const v = value.trim().toLowerCase();
  if (v === '' || v === '0' || v === 'false' || v === 'off' || v === 'no') return undefined;
  return v === 'json' ? 'json' : 'text';
}

/** The width of the step column: the longest step name, so the sentences line up. */
const STEP_WIDTH = 8;

/**
 * One line of the text format, e.g.
 *   trace  +0.012s  userns    created user namespace 4026532555 (pid 1234, pause)
 * the time since `start` (the command's), the step, and the sentence, prefixed with the container
 * it is about.
 */
export function formatTraceText(e: TraceEvent, start: number): string {
  const elapsed = `+${(Math.max(0, e.ts - start) / 1000).toFixed(3)}s`;
  const who = e.container ? `${e.container}: ` : '';
  return `trace  ${elapsed.padStart(8)}  ${e.step.padEnd(STEP_WIDTH)}  ${who}${e.text}`;
}

/** One line of the json format: the event with ts as an ISO 8601 time and `elapsed` in seconds. */
export function formatTraceJson(e: TraceEvent, start: number): string {
  const { ts, step, text, ...rest } = e;
  const elapsed = Math.round(Math.max(0, ts - start)) / 1000;
  return JSON.stringify({ ts: new Date(ts).toISOString(), elapsed, step, text, ...rest });
}

/** Prints events on stderr in the chosen format, times counted from `start`. */
export function traceWriter(format: TraceFormat, start = Date.now()): (e: TraceEvent) => void {
  const line = format === 'json' ? formatTraceJson : formatTraceText;
  return (e) => process.stderr.write(`${line(e, start)}\n`);
}
