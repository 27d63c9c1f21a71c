import type { Command } from 'commander';
import { PodDir } from '../pod/dir.js';
import { pollUntil } from '../host/poll.js';
import { superviseOrphans } from '../lifecycle/supervisor-client.js';
import { view, collectGarbage, podObject } from '../pod/view.js';
import { parseGoDuration } from '../kubectl/duration.js';
import {
  evalJsonPath,
  goString,
  isObject,
  parseJsonPath,
  splitJsonPathInput,
  type PathStep,
} from '../kubectl/jsonpath.js';
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
    .option(
      '--for <condition>',
      "condition=NAME[=VALUE], delete, create or jsonpath='{.status.phase}'=VALUE (may be repeated: each in turn)",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option(
      '--timeout <duration>',
      'how long to wait: 30s, 1m, 500ms...; 0 checks once, a negative value waits a week',
      '30s',
    )
    .action(async (pod: string, o: { for: string[]; timeout: string }) => {
      const conditions = o.for.map(parseFor);
      if (conditions.length === 0) {
        throw new PodboxError(
          'InvalidArgument',
          'no condition to wait for',
          "give --for=condition=Ready, --for=delete or --for=jsonpath='{.status.phase}'=Succeeded",
        );
      }
      const name = pod.replace(/^pods?\//, '');
      await superviseOrphans(await collectGarbage());
      await waitPod(name, conditions, parseTimeout(o.timeout), (line) => process.stdout.write(`${line}\n`));
    });
}

export type WaitCondition =
  | { kind: 'delete' }
  | { kind: 'create' }
  | { kind: 'condition'; name: string; value: string }
  | { kind: 'jsonpath'; expression: string; path: PathStep[]; value?: string };

const FOR_HINT =
  "use --for=condition=NAME[=VALUE], --for=delete, --for=create or --for=jsonpath='{.status.phase}'=VALUE";

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
    if (!name)
      throw new PodboxError('InvalidArgument', `--for=${text} names no condition`, 'give e.g. --for=condition=Ready');
    return { kind: 'condition', name, value };
  }
  if (text.startsWith('jsonpath=')) {
    const parts = splitJsonPathInput(text.slice('jsonpath='.length));
    if (parts.length > 2)
      throw new PodboxError(
        'InvalidArgument',
        `--for=${text}: jsonpath wait format must be --for=jsonpath='{.status.phase}'=VALUE or --for=jsonpath='{.status.podIP}'`,
        'write == inside a filter, one = before the value',
      );
    const expression = parts[0]!;
    const path = parseJsonPath(expression);
    if (parts.length === 1) return { kind: 'jsonpath', expression, path };
    const value = parts[1]!.replace(/^['"]+|['"]+$/g, '');
    if (!value)
      throw new PodboxError(
        'InvalidArgument',
        `--for=${text}: jsonpath wait has to have a value after equal sign`,
        "give e.g. --for=jsonpath='{.status.phase}'=Running",
      );
    return { kind: 'jsonpath', expression, path, value };
  }
  throw new PodboxError('InvalidArgument', `unrecognized condition: "${text}"`, FOR_HINT);
}

/**
 * Whether the Pod object meets a condition or jsonpath test (condition.go checkCondition, json.go
 * checkCondition): the first condition of that type decides.
 */
export function podMeets(pod: unknown, c: WaitCondition): boolean {
  if (c.kind === 'condition') {
    const conditions = evalJsonPath(pod, [{ field: 'status' }, { field: 'conditions' }])[0];
    if (!Array.isArray(conditions)) return false;
    const found = conditions.find(
      (x) => isObject(x) && typeof x.type === 'string' && x.type.toLowerCase() === c.name.toLowerCase(),
    );
    return isObject(found) && typeof found.status === 'string' && found.status.toLowerCase() === c.value.toLowerCase();
  }
  if (c.kind === 'jsonpath') {
    const results = evalJsonPath(pod, c.path);
    if (results.length === 0) return false;
    if (results.length > 1)
      throw new PodboxError(
        'InvalidArgument',
        `jsonpath "${c.expression}" matches more than one value`,
        'point it at a single field',
      );
    if (c.value === undefined) return true;
    if (typeof results[0] === 'object' && results[0] !== null) {
      throw new PodboxError(
        'InvalidArgument',
        `jsonpath "${c.expression}" leads to a nested object or list which is not supported`,
        'point it at a single field, e.g. {.status.phase}',
      );
    }
    return goString(results[0]).trim() === c.value.trim();
  }
  return true;
}

/** --timeout: a negative value waits a week, as kubectl's; 0 checks once. */
export function parseTimeout(text: string): number {
  const ms = parseGoDuration(text);
  if (ms === undefined)
    throw new PodboxError(
      'InvalidArgument',
      `--timeout ${text} is not a duration`,
      'give e.g. --timeout=30s, 1m or 500ms (0 checks once)',
    );
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
export async function waitPod(
  name: string,
  conditions: WaitCondition[],
  timeoutMs: number,
  print: (line: string) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const met = `pod/${name} condition met`;
  const notMet = () => new PodboxError('Timeout', `condition not met for pods/${name}`);
  const timedOut = () => new PodboxError('Timeout', `timed out waiting for the condition on pods/${name}`);
  const notFound = () => new PodboxError('PodNotFound', `pod "${name}" not found`, 'list pods with `podbox get`');

  const create = conditions.some((c) => c.kind === 'create');
  if (create) {
    // kubectl waits for --for=create first, whatever the order.
    if (!(await pollUntil(() => readPod(name) !== undefined, Math.max(0, deadline - Date.now()), POLL_MS)))
      throw timedOut();
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
