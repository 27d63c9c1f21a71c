import { describe, it, expect } from 'vitest';
import { parseFor, podMeets, parseTimeout } from '../../src/cli/wait.js';
import { parseJsonPath, evalJsonPath } from '../../src/kubectl/jsonpath.js';
import { parseGoDuration } from '../../src/kubectl/duration.js';
import { PodboxError } from '../../src/errors.js';

const podObj = {
  metadata: { name: 'web', labels: { 'app.kubernetes.io/name': 'web' } },
  status: {
    phase: 'Running',
    podIP: '127.0.0.1',
    conditions: [
      { type: 'PodScheduled', status: 'True' },
      { type: 'Ready', status: 'False' },
    ],
    containerStatuses: [
      { name: 'a', ready: true, restartCount: 2 },
      { name: 'b', ready: false, restartCount: 0 },
    ],
  },
};

const errorLine = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof PodboxError ? `${e.code}: ${e.toLine()}` : String(e);
  }
  return 'no error';
};

describe('wait --for, as kubectl wait parses it', () => {
  it('condition=NAME defaults to true; =VALUE; delete and create in any case', () => {
    expect(parseFor('condition=Ready')).toEqual({ kind: 'condition', name: 'Ready', value: 'true' });
    expect(parseFor('condition=ContainersReady=False')).toEqual({
      kind: 'condition',
      name: 'ContainersReady',
      value: 'False',
    });
    expect(parseFor('delete')).toEqual({ kind: 'delete' });
    expect(parseFor('DELETE')).toEqual({ kind: 'delete' });
    expect(parseFor('Create')).toEqual({ kind: 'create' });
  });

  it('jsonpath=EXPR=VALUE, quotes trimmed from the value, == kept inside a filter', () => {
    expect(parseFor('jsonpath={.status.phase}=Succeeded')).toMatchObject({
      kind: 'jsonpath',
      expression: '{.status.phase}',
      value: 'Succeeded',
    });
    expect(parseFor(`jsonpath={.status.phase}='Running'`)).toMatchObject({ value: 'Running' });
    expect(parseFor('jsonpath={.status.podIP}')).not.toHaveProperty('value');
    expect(parseFor('jsonpath={.status.conditions[?(@.type=="Ready")].status}=True')).toMatchObject({
      expression: '{.status.conditions[?(@.type=="Ready")].status}',
      value: 'True',
    });
  });

  it('refuses what kubectl refuses, one line with a hint', () => {
    expect(errorLine(() => parseFor('ready'))).toBe(
      `InvalidArgument: unrecognized condition: "ready": use --for=condition=NAME[=VALUE], --for=delete, --for=create or --for=jsonpath='{.status.phase}'=VALUE`,
    );
    expect(errorLine(() => parseFor('jsonpath={.status.phase}='))).toBe(
      `InvalidArgument: --for=jsonpath={.status.phase}=: jsonpath wait has to have a value after equal sign: give e.g. --for=jsonpath='{.status.phase}'=Running`,
    );
    expect(errorLine(() => parseFor('condition='))).toBe(
      'InvalidArgument: --for=condition= names no condition: give e.g. --for=condition=Ready',
    );
    expect(errorLine(() => parseFor('jsonpath={.status..phase}=x'))).toMatch(
      /^InvalidArgument: jsonpath "\{\.status\.\.phase\}" is not supported: /,
    );
  });
});

describe('the jsonpath subset', () => {
  it('dotted fields and [N] indices, braces and leading dot optional (kubectl RelaxedJSONPathExpression)', () => {
    expect(parseJsonPath('{.status.containerStatuses[0].ready}')).toEqual([
      { field: 'status' },
      { field: 'containerStatuses' },
      { index: 0 },
      { field: 'ready' },
    ]);
    expect(parseJsonPath('status.phase')).toEqual(parseJsonPath('{.status.phase}'));
    expect(parseJsonPath('.status.phase')).toEqual(parseJsonPath('{status.phase}'));
    expect(parseJsonPath('{.metadata.labels.app\\.kubernetes\\.io/name}')).toEqual([
      { field: 'metadata' },
      { field: 'labels' },
      { field: 'app.kubernetes.io/name' },
    ]);
  });

  it('finds values; a missing key or index finds nothing', () => {
    expect(evalJsonPath(podObj, parseJsonPath('{.status.phase}'))).toEqual(['Running']);
    expect(evalJsonPath(podObj, parseJsonPath('{.status.containerStatuses[1].ready}'))).toEqual([false]);
    expect(evalJsonPath(podObj, parseJsonPath('{.status.containerStatuses[-1].name}'))).toEqual(['b']);
    expect(evalJsonPath(podObj, parseJsonPath('{.status.containerStatuses[5].ready}'))).toEqual([]);
    expect(evalJsonPath(podObj, parseJsonPath('{.status.nope.deeper}'))).toEqual([]);
    expect(evalJsonPath(podObj, parseJsonPath('{.metadata.labels.app\\.kubernetes\\.io/name}'))).toEqual(['web']);
    expect(evalJsonPath(podObj, parseJsonPath('{.status.conditions[?(@.type=="Ready")].status}'))).toEqual(['False']);
  });

  it('compares as kubectl: the value printed as Go prints it, spaces trimmed', () => {
    const meets = (f: string) => podMeets(podObj, parseFor(f));
    expect(meets('jsonpath={.status.phase}=Running')).toBe(true);
    expect(meets('jsonpath={.status.phase}=running')).toBe(false);
    expect(meets('jsonpath={.status.containerStatuses[0].ready}=true')).toBe(true);
    expect(meets('jsonpath={.status.containerStatuses[0].restartCount}=2')).toBe(true);
    expect(meets('jsonpath={.status.podIP}')).toBe(true);
    expect(meets('jsonpath={.status.hostIP}')).toBe(false);
    expect(errorLine(() => meets('jsonpath={.status.conditions}=x'))).toBe(
      'InvalidArgument: jsonpath "{.status.conditions}" leads to a nested object or list which is not supported: point it at a single field, e.g. {.status.phase}',
    );
  });
});

describe('conditions', () => {
  it('names and values compare case-insensitively; a missing condition is not met', () => {
    const meets = (f: string) => podMeets(podObj, parseFor(f));
    expect(meets('condition=podscheduled')).toBe(true);
    expect(meets('condition=Ready')).toBe(false);
    expect(meets('condition=Ready=false')).toBe(true);
    expect(meets('condition=READY=FALSE')).toBe(true);
    expect(meets('condition=Initialized')).toBe(false);
    expect(podMeets({ status: {} }, parseFor('condition=Ready'))).toBe(false);
  });
});

describe('--timeout, a Go duration', () => {
  it('parses as time.ParseDuration, in milliseconds', () => {
    expect(['30s', '1m', '500ms', '0', '1m30s', '1.5s', '2h', '100us', '-1s', '+5s'].map(parseGoDuration)).toEqual([
      30_000, 60_000, 500, 0, 90_000, 1500, 7_200_000, 0.1, -1000, 5000,
    ]);
    expect(['', '30', 's', '1x', '1s2', '--1s'].map(parseGoDuration)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('a negative timeout waits a week; a bad one is refused', () => {
    expect(parseTimeout('-1s')).toBe(168 * 3_600_000);
    expect(errorLine(() => parseTimeout('30'))).toBe(
      'InvalidArgument: --timeout 30 is not a duration: give e.g. --timeout=30s, 1m or 500ms (0 checks once)',
    );
  });
});
