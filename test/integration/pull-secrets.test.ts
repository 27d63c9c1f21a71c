import { describe, expect, it } from 'vitest';
import { podTestHome, pod, box } from '../helpers/pods.js';

const c = podTestHome();

const PASSWORD = 'pull-secret-password-Zq9';
const AUTH = Buffer.from(`robot:${PASSWORD}`).toString('base64');
const CONFIG = JSON.stringify({ auths: { 'reg.example:5000': { auth: AUTH } } });
const SECRET = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'regcred' },
  type: 'kubernetes.io/dockerconfigjson',
  data: { '.dockerconfigjson': Buffer.from(CONFIG).toString('base64') },
});

describe('an image pull secret in the file', () => {
  it('is accepted, and get -o json|yaml and describe never show what it holds', async () => {
    const spec = { imagePullSecrets: [{ name: 'regcred' }], containers: [box('app', 'sleep 30')] };
    const r = await c.run(['run', '-d', '-'], { input: `${pod('ps', spec)}\n---\n${SECRET}` });
    expect(r).toEqual({ exitCode: 0, stdout: 'ps', stderr: '' });
    for (const args of [
      ['get', 'ps', '-o', 'json'],
      ['get', 'ps', '-o', 'yaml'],
      ['describe', 'ps'],
    ]) {
      const out = await c.run(args);
      expect(out.exitCode).toBe(0);
      for (const secret of [PASSWORD, AUTH, Buffer.from(CONFIG).toString('base64')]) {
        expect(out.stdout).not.toContain(secret);
        expect(out.stderr).not.toContain(secret);
      }
    }
    expect(JSON.parse((await c.run(['get', 'ps', '-o', 'json'])).stdout).spec.imagePullSecrets).toEqual([
      { name: 'regcred' },
    ]);
  });
});
