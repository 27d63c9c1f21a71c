import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { PODBOX, until } from '../helpers/cli.js';
import { pod, podTestHome } from '../helpers/pods.js';
import { pushImage, startRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * Registry credentials never leave where they are kept: with an htpasswd registry and an
 * imagePullSecret, neither the password nor its encodings appear in what podbox prints or writes
 * for people to read (run and pull output, events, `get -o json`, `describe`, the supervisor's
 * log, the pod's files), whether the pull succeeds or is refused. The pod record (pod.json, 0600)
 * is the one place that holds the Secrets given with the pod, as the API server does for a cluster:
 * a successor supervisor pulls with them.
 */
const c = podTestHome({ PODBOX_TESTING_BACKOFF: '1,4,600' });

function secretFor(host: string, user: string, password: string) {
  const auth = Buffer.from(`${user}:${password}`).toString('base64');
  const config = Buffer.from(JSON.stringify({ auths: { [host]: { auth } } })).toString('base64');
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'regcred' },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': config },
  };
  return { yaml: JSON.stringify(secret), forms: [password, auth, config] };
}

/** Every regular file under `dir`, but pod.json. */
function podFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...podFiles(p));
    else if (e.isFile() && p !== join(dir, 'pod.json')) out.push(p);
  }
  return out;
}

describe('pull credentials stay secret', () => {
  let reg: TestRegistry;
  let image: string;
  const work = mkdtempSync(join(tmpdir(), 'podbox-secret-'));

  beforeAll(async () => {
    reg = await startRegistry({ auth: 'basic' });
    await pushImage(reg.host, 'priv/app:1', { busybox: true, creds: `${reg.user}:${reg.password}` });
    image = `${reg.host}/priv/app:1`;
  }, 60_000);
  afterAll(async () => {
    await reg?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** What a user or a log collector can read about pod `name`, each with where it came from. */
  async function everythingShown(name: string): Promise<[string, string][]> {
    const shown: [string, string][] = [];
    for (const args of [
      ['get', name, '-o', 'json'],
      ['get', name, '-o', 'yaml'],
      ['describe', name],
      ['get', name],
    ]) {
      const r = await c.run(args);
      expect(r.exitCode).toBe(0);
      shown.push([args.join(' '), r.stdout + r.stderr]);
    }
    const dir = join(c.home, 'pods', name);
    for (const f of podFiles(dir)) shown.push([f, readFileSync(f, 'latin1')]);
    const log = join(c.home, 'pods', '.supervisor.log');
    if (existsSync(log)) shown.push([log, readFileSync(log, 'latin1')]);
    expect(statSync(join(dir, 'pod.json')).mode & 0o777).toBe(0o600);
    return shown;
  }

  const leaks = (shown: [string, string][], forms: string[]) =>
    shown.filter(([, text]) => forms.some((f) => text.includes(f))).map(([where]) => where);

  it('a pull with the right password: run output, events, get, describe, files and log show none of it', async () => {
    const s = secretFor(reg.host, reg.user!, reg.password!);
    const spec = {
      restartPolicy: 'Never',
      imagePullSecrets: [{ name: 'regcred' }],
      containers: [{ name: 'app', image, imagePullPolicy: 'Always', command: ['sh', '-c', 'echo pulled'] }],
    };
    const r = await c.run(['run', '--keep', '-'], { input: `${pod('good', spec)}\n---\n${s.yaml}` });
    expect([r.exitCode, r.stdout]).toEqual([0, 'app | pulled']);
    const shown = await everythingShown('good');
    expect(shown.find(([w]) => w === 'describe good')![1]).toContain(`Successfully pulled image "${image}"`);
    expect(leaks([['run', r.stdout + r.stderr], ...shown], s.forms)).toEqual([]);
  }, 60_000);

  it('a pull refused for a wrong password: the failure events and the output show none of it', async () => {
    const wrong = `wrong-${reg.password}-marker`;
    const s = secretFor(reg.host, reg.user!, wrong);
    const spec = {
      restartPolicy: 'Never',
      imagePullSecrets: [{ name: 'regcred' }],
      containers: [{ name: 'app', image, imagePullPolicy: 'Always', command: ['true'] }],
    };
    const r = await c.run(['run', '-d', '-'], { input: `${pod('refused', spec)}\n---\n${s.yaml}` });
    expect(r).toEqual({ exitCode: 0, stdout: 'refused', stderr: '' });
    await until(
      'ImagePullBackOff',
      async () =>
        JSON.parse((await c.run(['get', 'refused', '-o', 'json'])).stdout).status.containerStatuses[0].state.waiting
          ?.reason === 'ImagePullBackOff',
      20_000,
    );
    const shown = await everythingShown('refused');
    expect(shown.find(([w]) => w === 'describe refused')![1]).toContain(
      `Failed to pull image "${image}": cannot pull ${image} from ${reg.host}: access denied`,
    );
    expect(leaks([['run', r.stdout + r.stderr], ...shown], [...s.forms, reg.password!])).toEqual([]);

    // `podbox image pull` with the wrong password in an auth file: one line, and none of it.
    const authFile = join(work, 'auth.json');
    writeFileSync(authFile, JSON.stringify({ auths: { [reg.host]: { auth: s.forms[1] } } }));
    const p = await execa(PODBOX, ['image', 'pull', image], {
      env: { ...c.env, REGISTRY_AUTH_FILE: authFile },
      reject: false,
    });
    expect(p.exitCode).toBe(1);
    expect(leaks([['pull', `${p.stdout}${p.stderr}`]], s.forms)).toEqual([]);
  }, 60_000);
});
