import { describe, it, expect } from 'vitest';
import { podTestHome, pod, box, IMAGE } from '../helpers/pods.js';
import { until } from '../helpers/cli.js';

const c = podTestHome();

interface Status {
  phase: string;
  containerStatuses: {
    name: string;
    state: Record<string, { reason?: string; message?: string; exitCode?: number }>;
  }[];
}

async function status(name: string): Promise<Status & { uid: string }> {
  const r = await c.run(['get', name, '-o', 'json']);
  expect(r.stderr).toBe('');
  const p = JSON.parse(r.stdout);
  return { ...p.status, uid: p.metadata.uid };
}

describe('manifests read as the API server reads them (YAML 1.1)', () => {
  it('a secret with defaultMode: 0400 (octal) is mode 400 inside the container', async () => {
    const yaml = `
apiVersion: v1
kind: Pod
metadata: {name: modes}
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: ${IMAGE}
    command: [sh, -c, 'stat -L -c %a /s/pw /c/k']
    volumeMounts: [{name: s, mountPath: /s}, {name: c, mountPath: /c}]
  volumes:
  - {name: s, secret: {secretName: pw, defaultMode: 0400}}
  - {name: c, configMap: {name: cfg, items: [{key: k, path: k, mode: 0o640}]}}
---
apiVersion: v1
kind: Secret
metadata: {name: pw}
stringData: {pw: hunter2}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {k: v}
`;
    const r = await c.run(['run', '-'], { input: yaml });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('app | 400\napp | 640');
    expect(r.exitCode).toBe(0);
  });
});

describe('a container that cannot be made (CreateContainerConfigError)', () => {
  it('runAsNonRoot with an image that runs as root: the container waits, the pod stays Pending, an event says so', async () => {
    const spec = { securityContext: { runAsNonRoot: true }, containers: [box('app', 'echo ran')] };
    const r = await c.run(['run', '-d', '-'], { input: pod('nonroot', spec) });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const s = await until('the config error', async () => {
      const st = await status('nonroot');
      return st.containerStatuses[0]!.state.waiting?.reason === 'CreateContainerConfigError' && st;
    });
    const message = `container has runAsNonRoot and image will run as root (pod: "nonroot_default(${s.uid})", container: app)`;
    expect(s.phase).toBe('Pending');
    expect(s.containerStatuses[0]!.state).toEqual({ waiting: { reason: 'CreateContainerConfigError', message } });
    const d = await c.run(['describe', 'nonroot']);
    expect(d.stdout).toMatch(new RegExp(`Warning +Failed +\\S+ +kubelet +Error: ${message.replace(/[()]/g, '\\$&')}`));
    expect(d.stdout).not.toContain('Started');
    expect((await c.run(['logs', 'nonroot'])).stdout).toBe('');
  });
});

describe('a container that cannot be made, in the foreground', () => {
  it('a foreground run prints the error once and keeps retrying, as the kubelet does; Ctrl-C ends it', async () => {
    const p = c.spawn(['run', '-']);
    p.stdin!.end(
      pod('nouser', {
        containers: [box('app', 'echo ran', { securityContext: { runAsUser: 0, runAsNonRoot: true } })],
      }),
    );
    let out = '';
    p.all!.on('data', (d) => (out += d));
    await until('the error line', () => out.includes('CreateContainerConfigError'));
    const s = await status('nouser');
    expect(s.phase).toBe('Pending');
    expect(s.containerStatuses[0]!.state.waiting!.message).toBe(
      `container's runAsUser breaks non-root policy (pod: "nouser_default(${s.uid})", container: app)`,
    );
    p.kill('SIGINT');
    const r = await p;
    expect(r.exitCode).toBe(130);
    expect(out.trim()).toBe(
      `app | podbox: cannot create container: CreateContainerConfigError: ${s.containerStatuses[0]!.state.waiting!.message}; retrying`,
    );
  });
});

describe('termination messages', () => {
  it('the file at terminationMessagePath becomes state.terminated.message; describe shows it', async () => {
    const spec = {
      restartPolicy: 'Never',
      containers: [box('app', 'printf "disk full\\nbye" > /dev/termination-log; exit 1')],
    };
    expect((await c.run(['run', '-', '--keep'], { input: pod('msg', spec) })).exitCode).toBe(1);
    const s = await status('msg');
    expect(s.containerStatuses[0]!.state.terminated).toMatchObject({
      exitCode: 1,
      reason: 'Error',
      message: 'disk full\nbye',
    });
    expect((await c.run(['describe', 'msg'])).stdout).toMatch(/\n {6}Message: +disk full\nbye\n {6}Exit Code: +1\n/);
  });

  it('FallbackToLogsOnError with no file: the last 80 lines of a long log, at most 2048 bytes', async () => {
    const script =
      'for i in $(seq 1 2000); do printf "%03d%s\\n" $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done; exit 2';
    const spec = {
      restartPolicy: 'Never',
      containers: [box('app', script, { terminationMessagePolicy: 'FallbackToLogsOnError' })],
    };
    expect((await c.run(['run', '-', '--keep'], { input: pod('fallback', spec) })).exitCode).toBe(2);
    const lines = Array.from({ length: 2000 }, (_, i) => `${String(i + 1).padStart(3, '0')}${'x'.repeat(38)}\n`);
    const expected = lines.slice(-80).join('').slice(-2048);
    const s = await status('fallback');
    expect(s.containerStatuses[0]!.state.terminated).toMatchObject({ exitCode: 2, message: expected });
  });

  it('FallbackToLogsOnError and a container that succeeded: no message', async () => {
    const spec = {
      restartPolicy: 'Never',
      containers: [box('app', 'echo fine', { terminationMessagePolicy: 'FallbackToLogsOnError' })],
    };
    expect((await c.run(['run', '-', '--keep'], { input: pod('fine', spec) })).exitCode).toBe(0);
    expect((await status('fine')).containerStatuses[0]!.state.terminated!.message).toBeUndefined();
  });
});

describe('status fields a client reads', () => {
  it('get -o json: generation and observedGeneration, hostIPs, imageID, containerID, started, qosClass', async () => {
    const spec = {
      restartPolicy: 'Never',
      containers: [box('app', 'true', { resources: { limits: { cpu: '1', memory: '64Mi' } } })],
    };
    expect((await c.run(['run', '-', '--keep'], { input: pod('fields', spec) })).exitCode).toBe(0);
    const o = JSON.parse((await c.run(['get', 'fields', '-o', 'json'])).stdout);
    expect(o.metadata.generation).toBe(1);
    expect(o.status).toMatchObject({
      observedGeneration: 1,
      hostIP: '127.0.0.1',
      hostIPs: [{ ip: '127.0.0.1' }],
      qosClass: 'Guaranteed',
    });
    expect(o.status.conditions.every((x: { observedGeneration: number }) => x.observedGeneration === 1)).toBe(true);
    const cs = o.status.containerStatuses[0];
    expect(cs).toMatchObject({ containerID: 'runc://app.0', started: false });
    expect(cs.imageID).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
