import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { podTestHome, pod, box } from '../helpers/pods.js';
import { podRuntime, until } from '../helpers/cli.js';
import { applyFsGroup } from '../../src/volume/ownership.js';

/**
 * securityContext as the kubelet applies it, seen from inside the container with busybox: fsGroup on
 * volumes (pkg/volume/volume_linux.go SetVolumeOwnership), the process's groups, procMount. Pod uid 0
 * is the user who runs podbox (or root), so the files podbox makes show owner 0 rootless and as root.
 */
const c = podTestHome();
const home = c.home;
const STAT = "stat -c '%n %u:%g %a'";
// configMap and secret names are the atomic writer's symlinks into ..data: look at what they lead to.
const STAT_FOLLOW = "stat -L -c '%n %u:%g %a'";

const user = { runAsUser: 1000, runAsGroup: 3000 };

describe('fsGroup on writable volumes (emptyDir)', () => {
  it('runAsUser 1000, runAsGroup 3000, fsGroup 2000: the emptyDir is 0:2000 2777, new files 1000:2000', async () => {
    const spec = {
      restartPolicy: 'Never',
      securityContext: { ...user, fsGroup: 2000 },
      containers: [
        box('app', `touch /d/f /m/f && mkdir /d/sub && ${STAT} /d /d/f /d/sub /m /m/f`, {
          volumeMounts: [
            { name: 'd', mountPath: '/d' },
            { name: 'm', mountPath: '/m' },
          ],
        }),
      ],
      volumes: [
        { name: 'd', emptyDir: {} },
        { name: 'm', emptyDir: { medium: 'Memory' } },
      ],
    };
    const r = await c.run(['run', '-'], { input: pod('fsg', spec) });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      [
        'app | /d 0:2000 2777',
        'app | /d/f 1000:2000 644',
        'app | /d/sub 1000:2000 2755',
        'app | /m 0:2000 2777',
        'app | /m/f 1000:2000 644',
      ].join('\n'),
    );
    expect(r.exitCode).toBe(0);
  });

  it("a subPath directory podbox makes there is the container user's, in the fsGroup", async () => {
    const spec = {
      restartPolicy: 'Never',
      securityContext: { ...user, fsGroup: 2000 },
      containers: [
        box('app', `touch /sp/f && ${STAT} /d/made /d/made/here /d/made/here/f`, {
          volumeMounts: [
            { name: 'd', mountPath: '/d' },
            { name: 'd', mountPath: '/sp', subPath: 'made/here' },
          ],
        }),
      ],
      volumes: [{ name: 'd', emptyDir: {} }],
    };
    const r = await c.run(['run', '-'], { input: pod('sub', spec) });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      ['app | /d/made 1000:2000 2777', 'app | /d/made/here 1000:2000 2777', 'app | /d/made/here/f 1000:2000 644'].join(
        '\n',
      ),
    );
    expect(r.exitCode).toBe(0);
  });

  it('without fsGroup the emptyDir stays 0:0 777 and new files take the process group', async () => {
    const spec = {
      restartPolicy: 'Never',
      securityContext: user,
      containers: [box('app', `touch /d/f && ${STAT} /d /d/f`, { volumeMounts: [{ name: 'd', mountPath: '/d' }] })],
      volumes: [{ name: 'd', emptyDir: {} }],
    };
    const r = await c.run(['run', '-'], { input: pod('nofsg', spec) });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('app | /d 0:0 777\napp | /d/f 1000:3000 644');
    expect(r.exitCode).toBe(0);
  });
});

describe("the process's groups", () => {
  it('fsGroup and supplementalGroups join the primary group, as on Kubernetes (`id` in its docs)', async () => {
    const sc = { ...user, fsGroup: 2000, supplementalGroups: [4000] };
    const spec = { restartPolicy: 'Never', securityContext: sc, containers: [box('app', 'id')] };
    const r = await c.run(['run', '-'], { input: pod('groups', spec) });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('app | uid=1000 gid=3000 groups=2000,3000,4000');
    expect(r.exitCode).toBe(0);
  });
});

describe('fsGroup on read-only volumes (configMap, secret)', () => {
  it('every file and directory gets group 2000 and group read; directories setgid', async () => {
    const yaml = [
      pod('ro', {
        restartPolicy: 'Never',
        securityContext: { ...user, fsGroup: 2000 },
        containers: [
          box('app', `${STAT_FOLLOW} /c /c/a /c/sub /c/sub/b /s /s/pw`, {
            volumeMounts: [
              { name: 'c', mountPath: '/c' },
              { name: 's', mountPath: '/s' },
            ],
          }),
        ],
        volumes: [
          {
            name: 'c',
            configMap: {
              name: 'cfg',
              items: [
                { key: 'a', path: 'a' },
                { key: 'b', path: 'sub/b', mode: 0o600 },
              ],
            },
          },
          { name: 's', secret: { secretName: 'pw', defaultMode: 0o400 } },
        ],
      }),
      JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { a: '1', b: '2' } }),
      JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'pw' }, stringData: { pw: 'x' } }),
    ].join('\n---\n');
    const r = await c.run(['run', '-'], { input: yaml });
    expect(r.stderr).toBe('');
    // defaultMode 0400 plus the group's read: 0440 (the kubelet's roMask); mode 0600: 0640.
    expect(r.stdout).toBe(
      [
        'app | /c 0:2000 2755',
        'app | /c/a 0:2000 644',
        'app | /c/sub 0:2000 2755',
        'app | /c/sub/b 0:2000 640',
        'app | /s 0:2000 2755',
        'app | /s/pw 0:2000 440',
      ].join('\n'),
    );
    expect(r.exitCode).toBe(0);
  });
});

describe('fsGroupChangePolicy (volumes whose contents outlive the pod)', () => {
  it("OnRootMismatch leaves a matching root's tree alone, a file of another group too; Always does not", async () => {
    const spec = {
      securityContext: { ...user, fsGroup: 2000 },
      containers: [box('app', 'sleep 3600', { volumeMounts: [{ name: 'd', mountPath: '/d' }] })],
      volumes: [{ name: 'd', emptyDir: {} }],
    };
    expect((await c.run(['run', '-d', '-'], { input: pod('policy', spec) })).exitCode).toBe(0);
    await until('the container runs', () => podRuntime(home, 'policy').containers.app?.pid !== undefined);
    const sh = async (script: string) => {
      const r = await c.run(['exec', 'policy', '--', 'sh', '-c', script]);
      expect(r.stderr).toBe('');
      return r.stdout;
    };
    // A tree as an earlier pod left it: the root the fsGroup's (setgid, 2770), a file of group 3000.
    await sh('mkdir /d/t && chmod 2770 /d/t && touch /d/t/f && chgrp 3000 /d/t/f');
    const pause = podRuntime(home, 'policy').pause!.pid;
    const tree = join(home, 'pods', 'policy', 'volumes', 'd', 't');
    const own = (policy: 'OnRootMismatch' | 'Always') =>
      applyFsGroup(pause, [{ path: tree, fsGroup: 2000, policy, readOnly: false }])[0];
    expect(own('OnRootMismatch')).toBe(false);
    expect(await sh(`${STAT} /d/t /d/t/f`)).toBe('/d/t 1000:2000 2770\n/d/t/f 1000:3000 644');
    expect(own('Always')).toBe(true);
    expect(await sh(`${STAT} /d/t /d/t/f`)).toBe('/d/t 1000:2000 2770\n/d/t/f 1000:2000 664');
    // The root's group differs: OnRootMismatch walks the whole tree.
    await sh('chgrp 3000 /d/t /d/t/f && chmod 755 /d/t');
    expect(own('OnRootMismatch')).toBe(true);
    expect(await sh(`${STAT} /d/t /d/t/f`)).toBe('/d/t 1000:2000 2775\n/d/t/f 1000:2000 664');
  });
});

describe('ids the pod does not map', () => {
  it('is refused at run, in one line naming the pod and the range, before anything is made', async () => {
    const spec = { securityContext: { fsGroup: 70000 }, containers: [box('app', 'true')] };
    const r = await c.run(['run', '-'], { input: pod('far', spec) });
    expect(r.stderr).toBe(
      'podbox: pod "far": securityContext.fsGroup 70000 is outside the pod\'s gids (0-65535): ' +
        'choose an fsGroup in that range',
    );
    expect(r.exitCode).toBe(1);
    expect(existsSync(join(home, 'pods', 'far'))).toBe(false);
  });

  it("a container's runAsUser outside the range: one line at run, not runc's StartError", async () => {
    const spec = {
      restartPolicy: 'Never',
      containers: [box('app', 'id -u', { securityContext: { runAsUser: 70000 } })],
    };
    const r = await c.run(['run', '-'], { input: pod('far', spec) });
    expect(r.stderr).toBe(
      'podbox: pod "far": containers[0] "app": securityContext.runAsUser 70000 is outside the pod\'s uids ' +
        '(0-65535): choose a runAsUser in that range',
    );
    expect(r.exitCode).toBe(1);
    expect(existsSync(join(home, 'pods', 'far'))).toBe(false);
  });
});

describe('procMount', () => {
  it('Default masks /proc paths as containerd does; Unmasked (hostUsers: false) leaves /proc whole', async () => {
    // /proc/timer_list masked by /dev/null; /proc/sys bound read-only onto itself (a mount of its own).
    const script = 'stat -c %F /proc/timer_list; grep -c " /proc/sys " /proc/self/mounts || true';
    const spec = {
      restartPolicy: 'Never',
      hostUsers: false,
      containers: [box('masked', script), box('unmasked', script, { securityContext: { procMount: 'Unmasked' } })],
    };
    const r = await c.run(['run', '-'], { input: pod('proc', spec) });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').sort()).toEqual([
      'masked   | 1',
      'masked   | character special file',
      'unmasked | 0',
      'unmasked | regular empty file',
    ]);
    expect(r.exitCode).toBe(0);
  });
});
