import { describe, it, expect } from 'vitest';
import { podTestHome, pod, box, IMAGE } from '../helpers/pods.js';
import { until } from '../helpers/cli.js';

const c = podTestHome();
// Container names of this file only: as root, runc names a container's cgroup by its id alone (NAME.0),
// shared with every other pod on the machine that has a container of that name.

const lines = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^\w+ \| /, ''));

describe('downwardAPI and projected volumes', () => {
  it('hold the pod fields, resources and objects with their modes, in the atomic writer layout, read-only', async () => {
    const docs = [
      JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { a: 'A', b: 'B' } }),
      JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec' }, stringData: { token: 's3cret' } }),
      pod(
        'dapi',
        {
          restartPolicy: 'Never',
          containers: [
            box(
              'dapi',
              [
                'cd /etc/pod',
                'ls -a | tr "\\n" " "; echo',
                'readlink ..data | grep -cE "^\\.\\.[0-9]{4}(_[0-9]{2}){5}\\.[A-Za-z0-9]+$"',
                'readlink name',
                'for f in labels annotations name ns uid mem cpu; do echo "$f $(stat -L -c %a $f) $(cat $f)"; done',
                'cd /p; ls | tr "\\n" " "; echo',
                'for f in a b token podname; do echo "$f $(stat -L -c %a $f) $(cat $f)"; done',
                'touch /etc/pod/x 2>/dev/null || echo read-only',
                'cat /one/name; echo',
                'echo "env $MEM"',
              ].join('; '),
              {
                resources: { limits: { memory: '64Mi', cpu: '500m' } },
                env: [{ name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } }],
                volumeMounts: [
                  { name: 'pod', mountPath: '/etc/pod' },
                  { name: 'p', mountPath: '/p' },
                  // through the writer's own symlinks (name -> ..data/name), as the kubelet follows them
                  { name: 'pod', mountPath: '/one/name', subPath: 'name' },
                ],
              },
            ),
          ],
          volumes: [
            {
              name: 'pod',
              downwardAPI: {
                defaultMode: 0o400,
                items: [
                  { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
                  { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
                  { path: 'name', fieldRef: { fieldPath: 'metadata.name' }, mode: 0o600 },
                  { path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } },
                  { path: 'uid', fieldRef: { fieldPath: 'metadata.uid' } },
                  {
                    path: 'mem',
                    resourceFieldRef: { containerName: 'dapi', resource: 'limits.memory', divisor: '1Mi' },
                  },
                  { path: 'cpu', resourceFieldRef: { containerName: 'dapi', resource: 'limits.cpu', divisor: '1m' } },
                ],
              },
            },
            {
              name: 'p',
              projected: {
                defaultMode: 0o440,
                sources: [
                  { configMap: { name: 'cfg' } },
                  { secret: { name: 'sec', items: [{ key: 'token', path: 'token', mode: 0o400 }] } },
                  { downwardAPI: { items: [{ path: 'podname', fieldRef: { fieldPath: 'metadata.name' } }] } },
                ],
              },
            },
          ],
        },
        { uid: 'u-1', labels: { tier: 'fr"ont', app: 'web' }, annotations: { note: 'hi' } },
      ),
    ].join('\n---\n');
    const r = await c.run(['run', '-'], { input: docs });
    expect(r.stderr).toBe('');
    const out = lines(r.stdout);
    const ts = out[0]!.split(' ').find((n) => /^\.\.\d/.test(n));
    expect(out).toEqual([
      `. .. ${ts} ..data annotations cpu labels mem name ns uid `,
      '1',
      '..data/name',
      'labels 400 app="web"',
      'tier="fr\\"ont"',
      'annotations 400 note="hi"',
      'name 600 dapi',
      'ns 400 default',
      'uid 400 u-1',
      'mem 400 64',
      'cpu 400 500',
      'a b podname token ',
      'a 440 A',
      'b 440 B',
      'token 400 s3cret',
      'podname 440 dapi',
      'read-only',
      'dapi',
      'env 64',
    ]);
    expect(r.exitCode).toBe(0);
  });
});

describe('image volumes', () => {
  it('show an image of the store read-only and noexec (subPath too), and keep it in use while the pod is there', async () => {
    const spec = {
      containers: [
        box(
          'img',
          'ls /img/bin/busybox; touch /img/x 2>&1; /img/bin/busybox true 2>/dev/null || echo noexec; head -1 /sub/passwd; echo done; sleep 60',
          {
            volumeMounts: [
              { name: 'img', mountPath: '/img' },
              { name: 'img', mountPath: '/sub', subPath: 'etc' },
            ],
          },
        ),
      ],
      volumes: [{ name: 'img', image: { reference: IMAGE, pullPolicy: 'Never' } }],
    };
    expect((await c.run(['run', '-d', '-'], { input: pod('img', spec) })).exitCode).toBe(0);
    const log = await until(
      'the container to finish its checks',
      async () => {
        const l = (await c.run(['logs', 'img'])).stdout;
        return l.includes('done') ? l : undefined;
      },
      20_000,
    );
    expect(log).toBe(
      '/img/bin/busybox\ntouch: /img/x: Read-only file system\nnoexec\nroot:x:0:0:root:/root:/bin/sh\ndone',
    );
    const rm = await c.run(['image', 'rm', IMAGE]);
    expect(rm.stderr).toBe(
      `podbox: image ${IMAGE} is in use by pod(s) img: delete it first with \`podbox delete img\` (--force does not remove an image a running pod uses)`,
    );
    const described = (await c.run(['describe', 'img'])).stdout;
    expect(described).toContain(
      `Volumes:\n  img:\n    Type:        Image (a container image or OCI artifact)\n    Reference:   ${IMAGE}\n    PullPolicy:  Never\n`,
    );
    const json = JSON.parse((await c.run(['get', 'img', '-o', 'json'])).stdout) as { spec: { volumes: unknown } };
    expect(json.spec.volumes).toEqual(spec.volumes);
  });

  it("an absent image with pullPolicy Never fails the pod with the kubelet's words", async () => {
    const spec = {
      containers: [box('noimg', 'true', { volumeMounts: [{ name: 'img', mountPath: '/img' }] })],
      volumes: [{ name: 'img', image: { reference: 'localhost/absent:1', pullPolicy: 'Never' } }],
    };
    const r = await c.run(['run', '-'], { input: pod('noimg', spec) });
    expect(r.stderr).toBe(
      'podbox: volume "img": ErrImageNeverPull: Container image "localhost/absent:1" is not present with pull policy of Never: ' +
        "pull it with `podbox image pull localhost/absent:1` or load it with `podbox image load`, or set the volume's pullPolicy",
    );
    expect(r.exitCode).toBe(1);
  });
});

describe('emptyDir sizeLimit on disk', () => {
  it('a pod whose emptyDir outgrows its limit is evicted as the kubelet does', async () => {
    const spec = {
      restartPolicy: 'Always',
      containers: [
        box('evict', 'dd if=/dev/zero of=/cache/f bs=1024 count=2048 2>/dev/null; echo written; sleep 600', {
          volumeMounts: [{ name: 'cache', mountPath: '/cache' }],
        }),
      ],
      volumes: [{ name: 'cache', emptyDir: { sizeLimit: '1024Ki' } }],
    };
    expect((await c.run(['run', '-d', '-'], { input: pod('ev', spec) })).exitCode).toBe(0);
    type Status = {
      phase: string;
      reason?: string;
      message?: string;
      containerStatuses: { restartCount: number; state: { terminated?: { exitCode: number } } }[];
    };
    const st = await until(
      'the pod to be evicted',
      async () => {
        const s = (JSON.parse((await c.run(['get', 'ev', '-o', 'json'])).stdout) as { status: Status }).status;
        return s.phase === 'Failed' ? s : undefined;
      },
      20_000,
    );
    const message = 'Usage of EmptyDir volume "cache" exceeds the limit "1Mi". ';
    expect([st.phase, st.reason, st.message]).toEqual(['Failed', 'Evicted', message]);
    expect(st.containerStatuses[0]!.state.terminated?.exitCode).toBe(137);
    expect(st.containerStatuses[0]!.restartCount).toBe(0);
    const events = (await c.run(['describe', 'ev'])).stdout.split('\n').filter((l) => / (Evicted|Killing) /.test(l));
    expect(
      events.map((l) =>
        l
          .trim()
          .split(/\s{2,}/)
          .filter((_, i) => i !== 2),
      ),
    ).toEqual([
      ['Warning', 'Evicted', 'kubelet', message.trimEnd()],
      ['Normal', 'Killing', 'kubelet', 'Stopping container evict'],
    ]);
  });
});
