import { describe, expect, it } from 'vitest';
import {
  SAFE_ALPHABET,
  canonicalJSON,
  claimName,
  computeHash,
  controllerRevisionName,
  derivedUid,
  fnv32a,
  generateName,
  replicaSetName,
  safeEncodeString,
  statefulOrdinal,
  statefulPodName,
} from '../../src/workload/naming.js';
import { counting } from '../helpers/workloads.js';

describe('the controllers naming (controller_utils.go ComputeHash, names.SimpleNameGenerator)', () => {
  it('FNV-1a 32 gives the reference values', () => {
    expect(fnv32a(Buffer.from(''))).toBe(0x811c9dc5);
    expect(fnv32a(Buffer.from('a'))).toBe(0xe40c292c);
    expect(fnv32a(Buffer.from('foobar'))).toBe(0xbf9cf968);
  });

  it('SafeEncodeString maps each byte into the 27 letters without vowels', () => {
    expect(SAFE_ALPHABET).toBe('bcdfghjklmnpqrstvwxz2456789');
    // '0'..'9' are bytes 48..57: 48 % 27 = 21 → '4' ... 54 % 27 = 0 → 'b'
    expect(safeEncodeString('0123456789')).toBe('456789bcdf');
  });

  it('a template hash is the decimal FNV sum, safely encoded, stable under key order', () => {
    const a = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'x' }] } };
    const b = { spec: { containers: [{ image: 'x', name: 'app' }] }, metadata: { labels: { app: 'web' } } };
    expect(canonicalJSON(a)).toBe(canonicalJSON(b));
    expect(computeHash(a)).toBe(computeHash(b));
    expect(computeHash(a)).toBe(safeEncodeString(String(fnv32a(Buffer.from(canonicalJSON(a))))));
    expect(computeHash(a)).toMatch(/^[4-9bcdf]{1,10}$/);
    expect(computeHash(a, 1)).not.toBe(computeHash(a));
    expect(computeHash({ ...a, spec: { containers: [{ name: 'app', image: 'y' }] } })).not.toBe(computeHash(a));
  });

  it('names things as the controllers do', () => {
    expect(replicaSetName('web', '7c5ddbdf54')).toBe('web-7c5ddbdf54');
    expect(generateName('web-7c5ddbdf54-', counting())).toBe('web-7c5ddbdf54-bcdfg');
    expect(generateName(`${'a'.repeat(70)}-`, counting())).toBe(`${'a'.repeat(58)}bcdfg`);
    expect(statefulPodName('db', 2)).toBe('db-2');
    expect(statefulOrdinal('db', 'db-12')).toBe(12);
    expect(statefulOrdinal('db', 'db-01')).toBeUndefined();
    expect(statefulOrdinal('db', 'dbx-1')).toBeUndefined();
    expect(controllerRevisionName('db', '5d8f7c')).toBe('db-5d8f7c');
    expect(claimName('data', 'db-0')).toBe('data-db-0');
  });

  it('a modelled ReplicaSet has one uid, whoever asks', () => {
    const uid = derivedUid('uid-web', 'web-7c5ddbdf54');
    expect(uid).toBe(derivedUid('uid-web', 'web-7c5ddbdf54'));
    expect(uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(derivedUid('uid-web', 'web-other')).not.toBe(uid);
  });
});
