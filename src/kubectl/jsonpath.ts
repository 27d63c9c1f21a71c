import { PodboxError } from '../errors.js';

export type PathStep = { field: string } | { index: number } | { filter: { path: string[]; value: string } };

/** Splits on a single '=', keeping '==' (filters) whole, as kubectl's splitJSONPathInput. */
export function splitJsonPathInput(input: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < input.length; i++) {
    if (input[i] === '=') {
      if (input[i + 1] === '=') {
        cur += '==';
        i++;
        continue;
      }
      out.push(cur);
      cur = '';
      continue;
    }
    cur += input[i];
  }
  out.push(cur);
  return out;
}

export const JSONPATH_HINT =
  'podbox understands dotted fields, [N] indices and [?(@.field=="value")] filters, e.g. \'{.status.containerStatuses[0].ready}\'';

/**
 * The subset of kubectl's JSONPath that `wait` needs. Like kubectl (cmd/get
 * RelaxedJSONPathExpression) the braces and the leading dot may be left out. A dot inside a
 * field name is written `\.`.
 */
export function parseJsonPath(expression: string): PathStep[] {
  const relaxed = /^\{\.?([^{}]+)\}$|^\.?([^{}]+)$/.exec(expression);
  if (!relaxed)
    throw new PodboxError(
      'InvalidArgument',
      `unexpected path string "${expression}", expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'`,
      JSONPATH_HINT,
    );
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
      if (src[i] === '\\' && src[i + 1] === '.') {
        field += '.';
        i += 2;
        continue;
      }
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
          const got = evalJsonPath(
            item,
            step.filter.path.map((field) => ({ field })),
          );
          if (got.length === 1 && goString(got[0]) === step.filter.value) next.push(item);
        }
      }
    }
    values = next;
  }
  return values;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A JSON value as Go's fmt %v prints what encoding/json decoded. */
export function goString(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  return String(v);
}
