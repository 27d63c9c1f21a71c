import { describe, it, expect } from 'vitest';
import { existsSync, rmSync } from 'node:fs';
import { podTestHome, pod, box } from '../helpers/pods.js';

const c = podTestHome();

/** Runs one script in a one-container pod and returns its output lines (without the prefix). */
async function inPod(
  name: string,
  script: string,
  extra: Record<string, unknown> = {},
  spec: Record<string, unknown> = {},
) {
  const r = await c.run(['run', '-'], {
    input: pod(name, { restartPolicy: 'Never', containers: [box('t', script, extra)], ...spec }),
  });
  return {
    exitCode: r.exitCode,
    lines: r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/^t \| /, '')),
    stderr: r.stderr,
  };
}

describe('a container is isolated from the host', () => {
  it("sees only its own processes and cannot signal the host's", async () => {
    // echo and the glob are the shell's own, so the only process is the shell itself, PID 1.
    const r = await inPod(
      'procs',
      `echo /proc/[0-9]*; kill -0 ${process.pid} 2>/dev/null && echo signalled || echo cannot-signal`,
    );
    expect(r.lines).toEqual(['/proc/1', 'cannot-signal']);
  });

  it('cannot write outside its root filesystem and volumes', async () => {
    const marker = `/tmp/podbox-escape-${process.pid}`;
    rmSync(marker, { force: true });
    const r = await inPod(
      'escape',
      `echo x > ${marker} && echo wrote-own-tmp; echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo wrote-proc-sys || echo proc-sys-ro; touch /sys/x 2>/dev/null && echo wrote-sys || echo sys-ro; cat /proc/kcore 2>/dev/null | head -c1 | wc -c`,
    );
    expect(r.lines).toEqual(['wrote-own-tmp', 'proc-sys-ro', 'sys-ro', '0']);
    expect(existsSync(marker)).toBe(false); // its /tmp is its own overlay, not the host's
  });

  it("has containerd's default capabilities, and /dev holds only the standard devices", async () => {
    const r = await inPod('caps', 'grep CapBnd /proc/self/status; ls /dev | tr "\\n" " "');
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
    expect(r.lines[0]).toBe('CapBnd:\t00000000a80425fb');
    // runc adds /dev/core (-> /proc/kcore) only where /proc/kcore is visible, as it is to root;
    // termination-log is the kubelet's file for the termination message (makeMounts).
    expect(
      r.lines[1]!.trim()
        .split(' ')
        .filter((d) => d !== 'core')
        .sort(),
    ).toEqual([
      'fd',
      'full',
      'mqueue',
      'null',
      'ptmx',
      'pts',
      'random',
      'shm',
      'stderr',
      'stdin',
      'stdout',
      'termination-log',
      'tty',
      'urandom',
      'zero',
    ]);
  });

  it('allowPrivilegeEscalation: false sets no_new_privs', async () => {
    const r = await inPod('nnp', 'grep NoNewPrivs /proc/self/status', {
      securityContext: { allowPrivilegeEscalation: false },
    });
    expect(r.lines).toEqual(['NoNewPrivs:\t1']);
  });
});

describe('volumes', () => {
  it('readOnly mounts refuse writes; emptyDir is shared', async () => {
    const spec = {
      restartPolicy: 'Never',
      volumes: [{ name: 'v', emptyDir: {} }],
      containers: [
        box('w', 'echo shared > /v/f', { volumeMounts: [{ name: 'v', mountPath: '/v' }] }),
        box('r', 'until [ -e /v/f ]; do sleep 0.02; done; cat /v/f; echo no > /v/g 2>/dev/null || echo read-only', {
          volumeMounts: [{ name: 'v', mountPath: '/v', readOnly: true }],
        }),
      ],
    };
    const r = await c.run(['run', '-'], { input: pod('ro', spec) });
    expect(r.stdout).toBe('r | shared\nr | read-only');
    expect(r.exitCode).toBe(0);
  });

  it('emptyDir medium Memory is a tmpfs of sizeLimit', async () => {
    const r = await inPod(
      'mem',
      'grep " /cache " /proc/mounts | cut -d" " -f1,3; df -k /cache | tail -1 | tr -s " " | cut -d" " -f2',
      { volumeMounts: [{ name: 'cache', mountPath: '/cache' }] },
      { volumes: [{ name: 'cache', emptyDir: { medium: 'Memory', sizeLimit: '8Mi' } }] },
    );
    expect(r.lines).toEqual(['tmpfs tmpfs', '8192']);
  });

  it('configMap volumes and env from a ConfigMap in the same file', async () => {
    const docs = [
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'cfg' },
        data: { 'app.conf': 'level=debug\n', mode: 'fast' },
      }),
      pod('cm', {
        restartPolicy: 'Never',
        volumes: [{ name: 'c', configMap: { name: 'cfg' } }],
        containers: [
          box('t', 'cat /etc/app/app.conf; echo $MODE', {
            volumeMounts: [{ name: 'c', mountPath: '/etc/app' }],
            env: [{ name: 'MODE', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'mode' } } }],
          }),
        ],
      }),
    ].join('\n---\n');
    const r = await c.run(['run', '-'], { input: docs });
    expect(r.stdout).toBe('t | level=debug\nt | fast');
  });
});

describe('ownership through the id mapping', () => {
  it('a file the container chowns to uid 1000 stays uid 1000 inside', async () => {
    const r = await inPod('own', 'touch /tmp/f && chown 1000:1000 /tmp/f && stat -c "%u %g" /tmp/f; id -u');
    expect(r.lines).toEqual(['1000 1000', '0']);
  });
});
