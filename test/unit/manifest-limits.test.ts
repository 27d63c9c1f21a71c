import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/api/manifest.js';
import { PodboxError } from '../../src/errors.js';

const pod = (metadata: string) => `apiVersion: v1
kind: Pod
metadata: ${metadata}
spec:
  containers: [{name: app, image: localhost/busybox:test}]
`;

function errorOf(text: string): PodboxError {
  try {
    parseManifest(text, 'pod.yaml');
  } catch (e) {
    if (e instanceof PodboxError) return e;
    throw e;
  }
  throw new Error('manifest was accepted');
}

/** A "billion laughs": nine levels of nine aliases, 9^9 strings once expanded. */
const aliasBomb = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...'bcdefghi'.split('').map((l, i) => `${l}: &${l} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
].join('\n');

describe('manifest limits: what the API server would refuse, refused before it costs memory', () => {
  it('refuses a manifest over 3 MiB before parsing it', () => {
    const big = pod(`{name: web, labels: {a: "${'x'.repeat(3 * 1024 * 1024)}"}}`);
    const e = errorOf(big);
    expect(e.code).toBe('InvalidManifest');
    expect(e.toLine()).toBe(
      "pod.yaml: is larger than 3 MiB (3145728 bytes), the API server's limit: " +
        'make it smaller: large data belongs in an image or a volume, not in the manifest',
    );
  });

  it('refuses annotations over 256 KiB in total, as ValidateAnnotations does', () => {
    const half = 'x'.repeat(128 * 1024);
    const e = errorOf(pod(`{name: web, annotations: {a: "${half}", b: "${half}"}}`));
    expect(e.code).toBe('InvalidManifest');
    expect(e.toLine()).toBe(
      'pod.yaml: pod "web" is invalid: metadata.annotations: ' +
        'Too long: must have at most 262144 bytes: keep annotations under 256 KiB in total',
    );
  });

  it('accepts annotations of exactly 256 KiB (keys count too)', () => {
    const v = 'x'.repeat(256 * 1024 - 1);
    expect(parseManifest(pod(`{name: web, annotations: {a: "${v}"}}`), 'pod.yaml').pod.metadata.annotations?.a).toBe(v);
  });

  it('refuses annotations over 256 KiB on a ConfigMap given with the pod', () => {
    const big = 'x'.repeat(256 * 1024);
    const cm = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, annotations: {a: "${big}"}}\n`;
    expect(errorOf(`${pod('{name: web}')}---\n${cm}`).message).toBe(
      'pod.yaml: configmap "cfg" is invalid: metadata.annotations: Too long: must have at most 262144 bytes',
    );
  });

  it('refuses a YAML alias bomb as bad input naming the file', () => {
    const e = errorOf(aliasBomb);
    expect(e.code).toBe('InvalidManifest');
    expect(e.toLine()).toBe(
      'pod.yaml: expands its YAML aliases too far ' +
        '(over 100 aliased nodes, as a "billion laughs" does): write the values out, or use fewer aliases (*name)',
    );
  });
});
