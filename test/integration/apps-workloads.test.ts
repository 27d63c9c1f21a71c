import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { podDirs, until } from '../helpers/cli.js';
import { box, podTestHome } from '../helpers/pods.js';
import { httpGet } from '../helpers/http.js';

/**
 * apps/v1 Deployment and StatefulSet, and a v1 NodePort Service, end to end (rootless and as
 * root): `podbox run [-d] FILE`, `get deployments|statefulsets|services`, `delete`.
 */
const c = podTestHome();

afterEach(async () => {
  // A test that failed halfway leaves its objects: deleted (with their pods), then the test fails.
  const left = existsSync(join(c.home, 'pods', '.workloads'));
  for (const kind of ['deployments', 'statefulsets', 'services']) {
    const names = (await c.run(['get', kind, '-o', 'name'])).stdout.split('\n').filter(Boolean);
    if (names.length) await c.run(['delete', '--now', ...names]);
  }
  expect(left).toBe(false);
  expect(podDirs(c.home)).toEqual([]);
});

function apps(kind: string, name: string, spec: Record<string, unknown>, podSpec: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind,
    metadata: { name },
    spec: {
      ...spec,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { terminationGracePeriodSeconds: 1, ...podSpec } },
    },
  });
}

interface PodJson {
  metadata: { name: string; creationTimestamp: string };
  status: { phase: string; conditions?: { type: string; status: string; lastTransitionTime: string }[] };
}

async function pods(): Promise<PodJson[]> {
  const r = await c.run(['get', '-o', 'json']);
  return (JSON.parse(r.stdout) as { items: PodJson[] }).items;
}

const running = async () => (await pods()).filter((p) => p.status.phase === 'Running').map((p) => p.metadata.name);

/** NAME-HASH-RAND5: the ReplicaSet's pod-template-hash, then names.SimpleNameGenerator's 5 characters. */
const deploymentPod = (name: string) => new RegExp(`^${name}-[bcdfghjklmnpqrstvwxz2456789]{1,10}-[${ALPHABET}]{5}$`);
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

describe('Deployment', () => {
  it('run -d: 3 pods NAME-HASH-RAND5 Running; a deleted pod is replaced; delete deployment removes them', async () => {
    const file = apps('Deployment', 'web', { replicas: 3 }, { containers: [box('main', 'exec sleep 600')] });
    const r = await c.run(['run', '-d', '-'], { input: file });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('deployment.apps/web created');
    const first = await until(
      '3 pods Running',
      async () => ((await running()).length === 3 ? running() : false),
      60_000,
    );
    for (const name of first) expect(name).toMatch(deploymentPod('web'));
    // One ReplicaSet: the same NAME-HASH for all three.
    expect(new Set(first.map((n) => n.slice(0, -6))).size).toBe(1);
    await until('get deployments to show 3/3', async () => {
      const out = (await c.run(['get', 'deploy'])).stdout.split('\n');
      return (
        out[0] === 'NAME   READY   UP-TO-DATE   AVAILABLE   AGE' && /^web {4}3\/3 {5}3 {12}3 {11}\d+s$/.test(out[1]!)
      );
    });

    const killed = first[0]!;
    expect((await c.run(['delete', killed])).stdout).toBe(`pod "${killed}" deleted`);
    const after = await until(
      'a replacement, back to 3 Running',
      async () => {
        const names = await running();
        return names.length === 3 && !names.includes(killed) && names;
      },
      60_000,
    );
    expect(after.filter((n) => first.includes(n)).sort()).toEqual(first.slice(1).sort());
    const replacement = after.find((n) => !first.includes(n))!;
    expect(replacement.slice(0, -6)).toBe(killed.slice(0, -6));

    const d = await c.run(['delete', 'deployment', 'web']);
    expect(d.stdout).toBe('deployment.apps "web" deleted');
    expect(podDirs(c.home)).toEqual([]);
    expect((await c.run(['get', 'deployments'])).stderr).toBe('No resources found in default namespace.');
  });

  it('foreground run: keeps the pods until Ctrl-C, then deletes them (exit 130)', async () => {
    const file = apps('Deployment', 'fg', { replicas: 2 }, { containers: [box('main', 'echo up; exec sleep 600')] });
    const p = c.spawn(['run', '-']);
    p.stdin!.end(file);
    await until('2 pods Running', async () => (await running()).length === 2, 60_000);
    p.kill('SIGINT');
    const r = await p;
    expect(r.exitCode).toBe(130);
    const lines = String(r.stdout)
      .split('\n')
      .filter((l) => l.startsWith('[pod/'))
      .map((l) => l.replace(/^\[pod\/[^/]+\//, '[pod/X/'));
    expect(lines).toEqual(['[pod/X/main] up', '[pod/X/main] up']);
    expect(podDirs(c.home)).toEqual([]);
  });
});

describe('StatefulSet', () => {
  it('OrderedReady: NAME-0..2, each created only once the one before is Ready', async () => {
    // Ready 2 s after it starts, so an ordered start shows in the creation times.
    const main = box('main', 'sleep 2; touch /tmp/ready; exec sleep 600', {
      readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1 },
    });
    const r = await c.run(['run', '-d', '-'], {
      input: apps('StatefulSet', 'db', { replicas: 3, serviceName: 'db' }, { containers: [main] }),
    });
    expect(r.stdout).toBe('statefulset.apps/db created');
    await until(
      'get statefulsets to show 3/3',
      async () => /^db {5}3\/3 {5}\d+s$/m.test((await c.run(['get', 'sts'])).stdout),
      60_000,
    );
    const all = (await pods()).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    expect(all.map((p) => p.metadata.name)).toEqual(['db-0', 'db-1', 'db-2']);
    const created = all.map((p) => Date.parse(p.metadata.creationTimestamp));
    const ready = all.map((p) => Date.parse(p.status.conditions!.find((x) => x.type === 'Ready')!.lastTransitionTime));
    expect(created[1]).toBeGreaterThanOrEqual(ready[0]!);
    expect(created[2]).toBeGreaterThanOrEqual(ready[1]!);
    expect(ready[0]).toBeGreaterThan(created[0]!);
    const events = JSON.parse(
      readFileSync(join(c.home, 'pods', '.workloads', 'statefulset', 'db', 'events.json'), 'utf8'),
    ) as { reason: string; message: string }[];
    expect(events.map((e) => `${e.reason}: ${e.message}`)).toEqual([
      'SuccessfulCreate: create Pod db-0 in StatefulSet db successful',
      'SuccessfulCreate: create Pod db-1 in StatefulSet db successful',
      'SuccessfulCreate: create Pod db-2 in StatefulSet db successful',
    ]);
    expect((await c.run(['delete', 'sts', 'db'])).stdout).toBe('statefulset.apps "db" deleted');
  });
});

describe('Service', () => {
  it('NodePort: published on the host through the pod it selects; get services; delete -f', async () => {
    const service = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'site' },
      spec: { type: 'NodePort', selector: { app: 'site' }, ports: [{ port: 80, targetPort: 'http' }] },
    });
    const web = box('web', 'mkdir /w; echo "hello from $HOSTNAME" > /w/index.html; exec httpd -f -p 8080 -h /w', {
      ports: [{ name: 'http', containerPort: 8080 }],
    });
    const file = `${service}\n---\n${apps('Deployment', 'site', { replicas: 1 }, { containers: [web] })}\n`;
    const path = join(c.home, 'site.yaml');
    writeFileSync(path, file);
    const r = await c.run(['run', '-d', '--network=pasta', path]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('service/site created\ndeployment.apps/site created');
    const svc = JSON.parse((await c.run(['get', 'svc', 'site', '-o', 'json'])).stdout) as {
      spec: { ports: { nodePort: number }[] };
      status: unknown;
    };
    const nodePort = svc.spec.ports[0]!.nodePort;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    expect(nodePort).toBeLessThanOrEqual(32767);
    expect(svc.status).toEqual({ loadBalancer: {} });
    const table = (await c.run(['get', 'services'])).stdout.split('\n');
    expect(table[0]).toBe('NAME   TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)        AGE');
    expect(table[1]).toMatch(new RegExp(`^site {3}NodePort {3}<none> {7}<none> {8}80:${nodePort}/TCP {3}\\d+s$`));
    const body = await until('the node port to answer', () => httpGet(nodePort).catch(() => undefined), 60_000);
    const [name] = await running();
    expect(name).toMatch(deploymentPod('site'));
    expect(body).toBe(`hello from ${name}\n`);
    const d = await c.run(['delete', '-f', path]);
    expect(d.stdout).toBe('service "site" deleted\ndeployment.apps "site" deleted');
    expect((await c.run(['get', 'svc'])).stderr).toBe('No resources found in default namespace.');
  });
});
