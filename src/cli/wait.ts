import type { Command } from 'commander';
import { PodDir } from '../store/pods.js';
import { pollUntil } from '../poll.js';
import { view, collectGarbage } from './pod-ref.js';
import { podObject } from './get.js';
import { PodboxError, errnoOf, isPodboxError } from '../errors.js';

/**
 * `podbox wait POD --for=condition=NAME[=VALUE] | --for=delete | --for=create |
 * --for=jsonpath='{.status.phase}'=VALUE [--timeout=30s]`, as `kubectl wait`
 * (k8s.io/kubectl/pkg/cmd/wait: wait.go conditionFuncsFor and processJSONPathInput, condition.go,
 * delete.go, json.go). kubectl watches the API server; podbox polls the pod's files, which only
 * its supervisor writes, each by an atomic rename.
 */
export function registerWait(program: Command): void {
  program
    .command('wait')
    .description('wait for a condition on a pod (as kubectl wait)')
    .argument('<pod>', 'the pod (NAME or pod/NAME)')
    .option('--for <condition>', "condition=NAME[=VALUE], delete, create or jsonpath='{.status.phase}'=VALUE (may be repeated: each in turn)", (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--timeout <duration>', 'how long to wait: 30s, 1m, 500ms...; 0 checks once, a negative value waits a week', '30s')
    .action(async (pod: string, o: { for: string[]; timeout: string }) => {
      const conditions = o.for.map(parseFor);
      if (conditions.length === 0) {
        throw new PodboxError('InvalidArgument', 'no condition to wait for', "give --for=condition=Ready, --for=delete or --for=jsonpath='{.status.phase}'=Succeeded");
      }
      const name = pod.replace(/^pods?\//, '');
      await collectGarbage();
      await waitPod(name, conditions, parseTimeout(o.timeout), (line) => process.stdout.write(`${line}\n`));
    });
}

export type WaitCondition =
  | { kind: 'delete' }
  | { kind: 'create' }
  | { kind: 'condition'; name: string; value: string }
  | { kind: 'jsonpath'; expression: string; path: PathStep[]; value?: string };

export type PathStep = { field: string } | { index: number } | { filter: { path: string[]; value: string } };

const FOR_HINT = "use --for=condition=NAME[=VALUE], --for=delete, --for=create or --for=jsonpath='{.status.phase}'=VALUE";

/** One --for value (wait.go conditionFuncsFor): the keywords are case-insensitive, the prefixes are not. */
export function parseFor(text: string): WaitCondition {
  const lower = text.toLowerCase();
  if (lower === 'delete') return { kind: 'delete' };
  if (lower === 'create') return { kind: 'create' };
  if (text.startsWith('condition=')) {
    const rest = text.slice('condition='.length);
    const eq = rest.indexOf('=');
    // The default value is "true"; both are compared case-insensitively.
    const [name, value] = eq < 0 ? [rest, 'true'] : [rest.slice(0, eq), rest.slice(eq + 1)];
    if (!name) throw new PodboxError('InvalidArgument', `--for=${text} names no condition`, 'give e.g. --for=condition=Ready');
    return { kind: 'condition', name, value };
  }
  if (text.startsWith('jsonpath=')) {
    const parts = splitJsonPathInput(text.slice('jsonpath='.length));
    if (parts.length > 2) throw new PodboxError('InvalidArgument', `--for=${text}: jsonpath wait format must be --for=jsonpath='{.status.phase}'=VALUE or --for=jsonpath='{.status.podIP}'`, 'write == inside a filter, one = before the value');
    const expression = parts[0]!;
    const path = parseJsonPath(expression);
    if (parts.length === 1) return { kind: 'jsonpath', expression, path };
    const value = parts[1]!.replace(/^['"]+|['"]+$/g, '');
    if (!value) throw new PodboxError('InvalidArgument', `--for=${text}: jsonpath wait has to have a value after equal sign`, "give e.g. --for=jsonpath='{.status.phase}'=Running");
    return { kind: 'jsonpath', expression, path, value };
  }
  throw new PodboxError('InvalidArgument', `unrecognized condition: "${text}"`, FOR_HINT);
}

/** Splits on a single '=', keeping '==' (filters) whole, as kubectl's splitJSONPathInput. */
function splitJsonPathInput(input: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < input.length; i++) {
    if (input[i] === '=') {
      if (input[i + 1] === '=') { cur += '=='; i++; continue; }
      out.push(cur);
      cur = '';
      continue;
    }
    cur += input[i];
  }
  out.push(cur);
  return out;
}

const JSONPATH_HINT = "podbox understands dotted fields, [N] indices and [?(@.field==\"value\")] filters, e.g. '{.status.containerStatuses[0].ready}'";

/**
 * The subset of kubectl's JSONPath that `wait` needs. Like kubectl (cmd/get
 * RelaxedJSONPathExpression) the braces and the leading dot may be left out. A dot inside a
 * field name is written `\.`.
 */
export function parseJsonPath(expression: string): PathStep[] {
  const relaxed = /^\{\.?([^{}]+)\}$|^\.?([^{}]+)$/.exec(expression);
  if (!relaxed) throw new PodboxError('InvalidArgument', `unexpected path string "${expression}", expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'`, JSONPATH_HINT);
  const src = relaxed[1] ?? relaxed[2]!;
  const steps: PathStep[] = [];
  const bad = () => new PodboxError('InvalidArgument', `jsonpath "${expression}" is not supported`, JSONPATH_HINT);
  let i = 0;
  while (i < src.length) {
    if (src[i] === '[') {
      const close = src.indexOf(']', i);
      if (close < 0) throw bad();
      const inner = src.slice(i + 1, close);
      const filter = /^\?\(@((?:\.[A-Za-z0-9_-]+)+)\s*==\s*(?:"([^"]*)"|'([^']*)')\)$/.exec(inner);
      if (/^-?\d+$/.test(inner)) steps.push({ index: Number(inner) });
      else if (filter) steps.push({ filter: { path: filter[1]!.slice(1).split('.'), value: filter[2] ?? filter[3]! } });
      else throw bad();
      i = close + 1;
      continue;
    }
    if (src[i] === '.') i++;
    let field = '';
    while (i < src.length && src[i] !== '.' && src[i] !== '[') {
      if (src[i] === '\\' && src[i + 1] === '.') { field += '.'; i += 2; continue; }
      field += src[i++];
    }
    if (!field || field === '*' || field === '..') throw bad();
    steps.push({ field });
  }
  if (!steps.length) throw bad();
  return steps;
}

/** Every value the path leads to; a missing key or index leads nowhere (AllowMissingKeys). */
export function evalJsonPath(obj: unknown, path: PathStep[]): unknown[] {
  let values: unknown[] = [obj];
  for (const step of path) {
    const next: unknown[] = [];
    for (const v of values) {
      if ('field' in step) {
        if (isObject(v) && step.field in v) next.push(v[step.field]);
      } else if ('index' in step) {
        if (Array.isArray(v)) {
          const at = step.index < 0 ? v.length + step.index : step.index;
          if (at >= 0 && at < v.length) next.push(v[at]);
        }
      } else if (Array.isArray(v)) {
        for (const item of v) {
          const got = evalJsonPath(item, step.filter.path.map((field) => ({ field })));
          if (got.length === 1 && goString(got[0]) === step.filter.value) next.push(item);
        }
      }
    }
    values = next;
  }
  return values;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A JSON value as Go's fmt %v prints what encoding/json decoded. */
function goString(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  return String(v);
}

/**
 * Whether the Pod object meets a condition or jsonpath test (condition.go checkCondition, json.go
 * checkCondition): the first condition of that type decides.
 */
export function podMeets(pod: unknown, c: WaitCondition): boolean {
  if (c.kind === 'condition') {
    const conditions = evalJsonPath(pod, [{ field: 'status' }, { field: 'conditions' }])[0];
    if (!Array.isArray(conditions)) return false;
    const found = conditions.find((x) => isObject(x) && typeof x.type === 'string' && x.type.toLowerCase() === c.name.toLowerCase());
    return isObject(found) && typeof found.status === 'string' && found.status.toLowerCase() === c.value.toLowerCase();
  }
  if (c.kind === 'jsonpath') {
    const results = evalJsonPath(pod, c.path);
    if (results.length === 0) return false;
    if (results.length > 1) throw new PodboxError('InvalidArgument', `jsonpath "${c.expression}" matches more than one value`, 'point it at a single field');
    if (c.value === undefined) return true;
    if (typeof results[0] === 'object' && results[0] !== null) {
      throw new PodboxError('InvalidArgument', `jsonpath "${c.expression}" leads to a nested object or list which is not supported`, 'point it at a single field, e.g. {.status.phase}');
    }
    return goString(results[0]).trim() === c.value.trim();
  }
  return true;
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration ("30s", "1m30s", "500ms", "0", "-1s"), in milliseconds. */
export function parseGoDuration(text: string): number | undefined {
  const m = /^([-+]?)(.*)$/.exec(text)!;
  const body = m[2]!;
  if (body === '0') return 0;
  if (!body) return undefined;
  let total = 0;
  const re = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let at = 0;
  while (at < body.length) {
    re.lastIndex = at;
    const part = re.exec(body);
    if (!part) return undefined;
    total += Number(part[1]) * UNITS[part[2]!]!;
    at = re.lastIndex;
  }
  return m[1] === '-' ? -total : total;
}

/** --timeout: a negative value waits a week, as kubectl's; 0 checks once. */
export function parseTimeout(text: string): number {
  const ms = parseGoDuration(text);
  if (ms === undefined) throw new PodboxError('InvalidArgument', `--timeout ${text} is not a duration`, 'give e.g. --timeout=30s, 1m or 500ms (0 checks once)');
  return ms < 0 ? 168 * 3_600_000 : ms;
}

/** The pod as `get -o json` shows it, or undefined when it does not exist (or is being removed). */
function readPod(name: string): Record<string, unknown> | undefined {
  try {
    return podObject(view(PodDir.open(name)));
  } catch (e) {
    if ((isPodboxError(e) && e.code === 'PodNotFound') || errnoOf(e) === 'ENOENT') return undefined;
    throw e;
  }
}

const uidOf = (pod: Record<string, unknown>) => (pod.metadata as { uid?: string } | undefined)?.uid;
const POLL_MS = 100;

/**
 * Waits for each condition in turn, all within one timeout, printing kubectl's line for each met.
 * A pod missing at the start is an error, except with --for=delete: then there is nothing to
 * wait for and nothing to print (kubectl ignores NotFound when it waits for deletion).
 */
export async function waitPod(name: string, conditions: WaitCondition[], timeoutMs: number, print: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const met = `pod/${name} condition met`;
  const notMet = () => new PodboxError('Timeout', `condition not met for pods/${name}`);
  const timedOut = () => new PodboxError('Timeout', `timed out waiting for the condition on pods/${name}`);
  const notFound = () => new PodboxError('PodNotFound', `pod "${name}" not found`, 'list pods with `podbox get`');

  const create = conditions.some((c) => c.kind === 'create');
  if (create) {
    // kubectl waits for --for=create first, whatever the order.
    if (!(await pollUntil(() => readPod(name) !== undefined, Math.max(0, deadline - Date.now()), POLL_MS))) throw timedOut();
  }
  const first = readPod(name);
  if (!first) {
    if (conditions.some((c) => c.kind === 'delete')) return;
    throw notFound();
  }
  const uid = uidOf(first);
  for (const c of conditions) {
    if (c.kind === 'create') {
      print(met);
      continue;
    }
    let check: () => boolean;
    if (c.kind === 'delete') {
      // Gone, or replaced by a new pod of the same name.
      check = () => {
        const p = readPod(name);
        return p === undefined || uidOf(p) !== uid;
      };
    } else {
      check = () => {
        const p = readPod(name);
        if (!p) throw notFound();
        return podMeets(p, c);
      };
    }
    if (timeoutMs === 0) {
      if (!check()) throw notMet();
    } else if (!(await pollUntil(check, Math.max(0, deadline - Date.now()), POLL_MS))) {
      throw timedOut();
    }
    print(met);
  }
}
