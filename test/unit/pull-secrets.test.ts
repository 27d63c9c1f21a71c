import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/api/manifest.js';
import { PodboxError } from '../../src/errors.js';
import { missingPullSecretsMessage, pullSecretsOf } from '../../src/registry/pull-secrets.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const AUTH = b64('robot:s3cret');
const CONFIG_JSON = JSON.stringify({ auths: { 'reg.example:5000': { auth: AUTH } } });

const pod = (pullSecrets: string) => `
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  imagePullSecrets: ${pullSecrets}
  containers:
  - name: app
    image: reg.example:5000/app:1
`;

const secret = (name: string, type: string, data: string) => `
---
apiVersion: v1
kind: Secret
metadata: {name: ${name}}
type: ${type}
${data}
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

describe('imagePullSecrets of the same file (kubelet getPullSecretsForPod)', () => {
  it('reads dockerconfigjson (data or stringData) and legacy dockercfg Secrets, in the pod order', () => {
    const text =
      pod('[{name: json}, {name: legacy}, {name: plain}, {name: ""}, {name: string}]') +
      secret('json', 'kubernetes.io/dockerconfigjson', `data: {.dockerconfigjson: ${b64(CONFIG_JSON)}}`) +
      secret('legacy', 'kubernetes.io/dockercfg', `data: {.dockercfg: ${b64('{"old.example": {"auth": "eDp5"}}')}}`) +
      secret('plain', 'Opaque', 'stringData: {a: b}') +
      secret('string', 'kubernetes.io/dockerconfigjson', `stringData: {.dockerconfigjson: '${CONFIG_JSON}'}`);
    expect(pullSecretsOf(parseManifest(text, 'pod.yaml'))).toEqual({
      configs: [
        { auths: { 'reg.example:5000': { auth: AUTH } } },
        { auths: { 'old.example': { auth: 'eDp5' } } },
        { auths: { 'reg.example:5000': { auth: AUTH } } },
      ],
      missing: [],
    });
  });

  it('names the Secrets the file lacks, for the kubelet warning event; the pod still runs', () => {
    const m = parseManifest(pod('[{name: gone}, {name: also-gone}]'), 'pod.yaml');
    const r = pullSecretsOf(m);
    expect(r).toEqual({ configs: [], missing: ['gone', 'also-gone'] });
    expect(missingPullSecretsMessage(r.missing)).toBe(
      'Unable to retrieve some image pull secrets (gone, also-gone); attempting to pull the image may not succeed.',
    );
  });

  it('refuses what the API server refuses, never showing the content', () => {
    expect(errorOf(pod('[{nme: x}]')).toLine()).toMatch(/spec\.imagePullSecrets\[0\]\.nme: unknown field/);
    expect(
      errorOf(pod('[{name: s}]') + secret('s', 'kubernetes.io/dockerconfigjson', 'data: {other: eA==}')).toLine(),
    ).toBe(
      'pod.yaml: secret "s" is invalid: data[.dockerconfigjson]: Required value: ' +
        'put a docker config.json with the registry credentials in data[.dockerconfigjson], base64-encoded',
    );
    const bad = errorOf(
      pod('[{name: s}]') +
        secret('s', 'kubernetes.io/dockerconfigjson', `data: {.dockerconfigjson: ${b64('{"auths": s3cret')}}`),
    ).toLine();
    expect(bad).toMatch(
      new RegExp(
        '^pod\\.yaml: secret "s" is invalid: data\\[\\.dockerconfigjson\\]: ' +
          'Invalid value: "<secret contents redacted>": not valid JSON \\(',
      ),
    );
    expect(bad).not.toContain('s3cret');
    expect(
      errorOf(pod('[{name: s}]') + secret('s', 'kubernetes.io/dockercfg', `stringData: {.dockercfg: '[1]'}`)).toLine(),
    ).toMatch(/data\[\.dockercfg\]: Invalid value: "<secret contents redacted>": not a JSON object/);
  });
});
