import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { podTestHome, pod } from '../helpers/pods.js';
import { until } from '../helpers/cli.js';
import { startRegistry, pushImage, type TestRegistry } from '../helpers/registry.js';

// Image back-off 1 s doubling to 4 s, so a failing pull is retried within seconds.
const c = podTestHome({ PODBOX_TESTING_BACKOFF: '1,4,600' });

/** The kubelet's "Image size": the manifest's config and layers, as the registry serves them. */
function imageSize(host: string, repo: string, tag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `http://${host}/v2/${repo}/manifests/${tag}`,
      { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => {
          const m = JSON.parse(body) as { config: { size: number }; layers: { size: number }[] };
          resolve(m.config.size + m.layers.reduce((n, l) => n + l.size, 0));
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

interface Event {
  type: string;
  reason: string;
  message: string;
  count: number;
}

/** The pod's events as its supervisor last saved them (events.json, as `describe` reads it). */
/** The pod's events but the DNS fallback warning every ClusterFirst pod has (dns.test.ts checks that one). */
function events(name: string): Event[] {
  const all = JSON.parse(readFileSync(join(c.home, 'pods', name, 'events.json'), 'utf8')) as Event[];
  return all.filter((e) => e.reason !== 'MissingClusterDNS');
}

const PULLED = (image: string) =>
  new RegExp(
    `^Successfully pulled image "${image.replace(/[.]/g, '\\.')}" in (\\d+ms|\\d+(\\.\\d+)?s) ` +
      `\\((\\d+ms|\\d+(\\.\\d+)?s) including waiting\\)\\. Image size: (\\d+) bytes\\.$`,
  );

describe('pulls during run, from a registry on 127.0.0.1', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  }, 30_000);
  afterAll(async () => {
    await reg?.stop();
  });

  it('Always: Pulling, then Pulled with its durations and size; a line per layer; the container runs', async () => {
    const image = `${reg.host}/app:1`;
    const pushed = await pushImage(reg.host, 'app:1', { busybox: true });
    const spec = {
      restartPolicy: 'Never',
      containers: [{ name: 'app', image, imagePullPolicy: 'Always', command: ['sh', '-c', 'echo ran'] }],
    };
    const r = await c.run(['run', '--keep', '-'], { input: pod('always', spec) });
    expect(r.stdout).toBe('app | ran');
    expect(r.exitCode).toBe(0);
    // Without a terminal: `podbox image pull`'s lines, one per layer.
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe(`Trying to pull ${image}...`);
    // (in the order they finish: they download together)
    expect(
      lines
        .slice(1)
        .map((l) => l.replace(/ done \(\S+\)$/, ' done'))
        .sort(),
    ).toEqual(pushed.layers.map((d) => `Copying blob ${d.slice(7, 19)} done`).sort());
    const ev = events('always');
    expect(ev.map((e) => [e.type, e.reason]).slice(1)).toEqual([
      ['Normal', 'Pulling'],
      ['Normal', 'Pulled'],
      ['Normal', 'Created'],
      ['Normal', 'Started'],
    ]);
    expect(ev[1]!.message).toBe(`Pulling image "${image}"`);
    const size = PULLED(image).exec(ev[2]!.message)?.[5];
    expect(Number(size)).toBe(await imageSize(reg.host, 'app', '1'));
    const st = JSON.parse((await c.run(['get', 'always', '-o', 'json'])).stdout).status.containerStatuses[0];
    expect(st.imageID).toBe(`${reg.host}/app@${pushed.digest}`);
  }, 60_000);

  it('a pull that fails until the image is pushed: ErrImagePull and ImagePullBackOff, then it runs', async () => {
    const image = `${reg.host}/late:1`;
    const spec = { restartPolicy: 'Never', containers: [{ name: 'app', image, command: ['sh', '-c', 'echo late'] }] };
    expect((await c.run(['run', '-d', '-'], { input: pod('late', spec) })).exitCode).toBe(0);
    const reason = async () =>
      JSON.parse((await c.run(['get', 'late', '-o', 'json'])).stdout).status.containerStatuses[0].state.waiting
        ?.reason as string | undefined;
    await until('ImagePullBackOff', async () => (await reason()) === 'ImagePullBackOff', 20_000);
    const failed = events('late').find((e) => e.message.startsWith(`Failed to pull image "${image}": `));
    expect(failed?.type).toBe('Warning');
    await pushImage(reg.host, 'late:1', { busybox: true });
    await until(
      'the pod Succeeded',
      async () => JSON.parse((await c.run(['get', 'late', '-o', 'json'])).stdout).status.phase === 'Succeeded',
      30_000,
    );
    expect((await c.run(['logs', 'late'])).stdout).toBe('late');
    // Each event once, in the order it first happened (repeats are counted, as the correlator does).
    const ev = events('late').map((e) => [
      e.type,
      e.reason,
      e === failed || e.message === failed?.message ? 'Failed to pull…' : e.message.replace(PULLED(image), 'Pulled…'),
    ]);
    expect(ev).toEqual([
      ['Normal', 'Scheduled', 'Successfully assigned default/late to podbox'],
      ['Normal', 'Pulling', `Pulling image "${image}"`],
      ['Warning', 'Failed', 'Failed to pull…'],
      ['Warning', 'Failed', 'Error: ErrImagePull'],
      ['Normal', 'BackOff', `Back-off pulling image "${image}"`],
      ['Warning', 'Failed', 'Error: ImagePullBackOff'],
      ['Normal', 'Pulled', 'Pulled…'],
      ['Normal', 'Created', 'Created container app'],
      ['Normal', 'Started', 'Started container app'],
    ]);
  }, 60_000);
});
