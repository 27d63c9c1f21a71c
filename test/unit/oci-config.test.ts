import { describe, it, expect } from 'vitest';
import {
  ociConfig,
  containerCgroupsPath,
  processArgs,
  mergeEnv,
  DEFAULT_CAPABILITIES,
} from '../../src/container/oci-config.js';
import { processUser, resolveUser } from '../../src/container/user.js';
import { container, pod } from '../helpers/fixtures.js';

const files = { hosts: '/p/etc/hosts', hostname: '/p/etc/hostname', resolvConf: '/p/etc/resolv.conf', shm: '/p/shm' };
const base = (c = container('app'), p = pod()) => ({
  pod: p,
  container: c,
  image: { Entrypoint: ['/entry'], Cmd: ['a', 'b'], Env: ['PATH=/img/bin', 'X=1'], WorkingDir: '/srv' },
  rootfs: '/p/containers/app/rootfs',
  env: ['X=2', 'Y=3'],
  user: { uid: 0, gid: 0, additionalGids: [] },
  hostname: 'demo',
  podFiles: files,
  mounts: [],
  sharePid: false,
});

describe('processArgs: Kubernetes command/args over image Entrypoint/Cmd', () => {
  const img = { Entrypoint: ['/e'], Cmd: ['c1', 'c2'] };
  it('uses the image when neither is given', () => expect(processArgs({}, img)).toEqual(['/e', 'c1', 'c2']));
  it('command replaces Entrypoint and drops Cmd', () => expect(processArgs({ command: ['/x'] }, img)).toEqual(['/x']));
  it('args replaces Cmd only', () => expect(processArgs({ args: ['z'] }, img)).toEqual(['/e', 'z']));
  it('command and args both', () => expect(processArgs({ command: ['/x'], args: ['y'] }, img)).toEqual(['/x', 'y']));
});

describe('mergeEnv', () => {
  it('orders PATH, HOSTNAME, image env, then container env; later wins', () => {
    expect(mergeEnv(['PATH=/img/bin', 'X=1'], ['X=2', 'Y=3'], 'h')).toEqual([
      'PATH=/img/bin',
      'HOSTNAME=h',
      'X=2',
      'Y=3',
    ]);
  });
});

describe('resolveUser: the user as the kubelet and containerd make it', () => {
  const passwd = 'root:x:0:0::/root:/bin/sh\nweb:x:1000:1001::/home/web:/bin/sh\n';
  const group = 'root:x:0:\nwebgrp:x:1001:\nextra:x:2000:web\nweb:x:3000:web\nother:x:4000:root,web\n';
  it('defaults to root, whose groups are its own', () =>
    expect(resolveUser('', passwd, group, {})).toEqual({ uid: 0, gid: 0, additionalGids: [0] }));
  it('resolves a name with its group and the groups that list it (not the group named as the user)', () =>
    expect(resolveUser('web', passwd, group, {})).toEqual({
      uid: 1000,
      gid: 1001,
      additionalGids: [1001, 2000, 4000],
    }));
  it("drops the image's group part: a uid takes its /etc/passwd group, or 0 (kubernetes#61967)", () => {
    expect(resolveUser('5:6', passwd, group, {})).toEqual({ uid: 5, gid: 0, additionalGids: [0] });
    expect(resolveUser('1000:6', passwd, group, {})).toEqual({
      uid: 1000,
      gid: 1001,
      additionalGids: [1001, 2000, 4000],
    });
  });
  it("runAsUser and runAsGroup win over the image; the image's groups for that uid's name are still merged", () => {
    expect(resolveUser('web', passwd, group, { runAsUser: 7, runAsGroup: 8 })).toEqual({
      uid: 7,
      gid: 8,
      additionalGids: [8],
    });
    expect(resolveUser('', passwd, group, { runAsUser: 1000, runAsGroup: 3000 })).toEqual({
      uid: 1000,
      gid: 3000,
      additionalGids: [2000, 3000, 4000],
    });
  });
  it('supplementalGroupsPolicy Strict: only the primary group, fsGroup and supplementalGroups', () =>
    expect(
      resolveUser('web', passwd, group, { runAsGroup: 3000, supplementalGroups: [2000, 5000], imageGroups: false }),
    ).toEqual({ uid: 1000, gid: 3000, additionalGids: [2000, 3000, 5000] }));
  it('an unknown name is an error', () =>
    expect(resolveUser('nobody', passwd, group, {})).toBe('user "nobody" is not in the image\'s /etc/passwd'));
});

describe('ociConfig', () => {
  it('joins the pod namespaces by path and gets its own pid, mount and cgroup namespaces', () => {
    const cfg = ociConfig(base()) as any;
    expect(cfg.linux.namespaces).toEqual([
      { type: 'pid' },
      { type: 'mount' },
      { type: 'cgroup' },
      { type: 'network', path: '/proc/1/ns/net' },
      { type: 'ipc', path: '/proc/1/ns/ipc' },
      { type: 'uts', path: '/proc/1/ns/uts' },
    ]);
    expect(cfg.hostname).toBeUndefined();
  });
  it('puts each container instance in a cgroup of its own pod, never one named by the container alone', () => {
    const p = pod();
    const path = containerCgroupsPath({ ...p, metadata: { ...p.metadata, uid: 'u-1' } }, 'app.0');
    expect(path).toBe('/podbox-podu-1-app.0');
    expect((ociConfig({ ...base(), cgroupsPath: path }) as any).linux.cgroupsPath).toBe(path);
    expect((ociConfig(base()) as any).linux.cgroupsPath).toBeUndefined();
  });
  it("shareProcessNamespace joins pause's PID namespace", () => {
    const cfg = ociConfig({ ...base(), sharePid: true }) as any;
    expect(cfg.linux.namespaces[0]).toEqual({ type: 'pid', path: '/proc/1/ns/pid' });
  });
  it('procMount Unmasked: no masked or read-only /proc paths', () => {
    const c = { ...container('app'), securityContext: { procMount: 'Unmasked' as const } };
    const cfg = ociConfig(base(c)) as any;
    expect(cfg.linux.maskedPaths).toEqual([]);
    expect(cfg.linux.readonlyPaths).toEqual([]);
  });
  it("has containerd's default capabilities, masked paths and the pod files", () => {
    const cfg = ociConfig(base()) as any;
    expect(cfg.process.capabilities.bounding).toEqual([...DEFAULT_CAPABILITIES].sort());
    expect(cfg.process.capabilities.bounding).not.toContain('CAP_SYS_ADMIN');
    expect(cfg.linux.maskedPaths).toContain('/proc/kcore');
    expect(cfg.linux.readonlyPaths).toContain('/proc/sys');
    const dests = cfg.mounts.map((m: any) => m.destination);
    expect(dests).toEqual([
      '/proc',
      '/dev',
      '/dev/pts',
      '/dev/mqueue',
      '/sys',
      '/dev/shm',
      '/etc/hosts',
      '/etc/hostname',
      '/etc/resolv.conf',
    ]);
    expect(cfg.process.args).toEqual(['/entry', 'a', 'b']);
    expect(cfg.process.cwd).toBe('/srv');
    expect(cfg.process.noNewPrivileges).toBe(false);
    expect(cfg.process.terminal).toBe(false);
  });
  it('applies securityContext: drop ALL, add, no new privileges, read-only root', () => {
    const c = container('app', {
      securityContext: {
        capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] },
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
      },
    });
    const cfg = ociConfig(base(c)) as any;
    expect(cfg.process.capabilities.bounding).toEqual(['CAP_NET_ADMIN']);
    expect(cfg.process.noNewPrivileges).toBe(true);
    expect(cfg.root).toEqual({ path: '/p/containers/app/rootfs', readonly: true });
  });
  it('a non-root user keeps no effective capabilities', () => {
    const cfg = ociConfig({ ...base(), user: { uid: 1000, gid: 1000, additionalGids: [] } }) as any;
    expect(cfg.process.capabilities.effective).toEqual([]);
    expect(cfg.process.user).toEqual({ uid: 1000, gid: 1000 });
  });
  it('binds volumes read-only when asked', () => {
    const cfg = ociConfig({
      ...base(),
      mounts: [{ source: '/p/volumes/www', destination: '/www', readOnly: true }],
    }) as any;
    expect(cfg.mounts.at(-1)).toEqual({
      destination: '/www',
      type: 'bind',
      source: '/p/volumes/www',
      options: ['rbind', 'rprivate', 'ro'],
    });
  });
});

describe("processUser: runAsNonRoot as the kubelet's verifyRunAsNonRoot, then the user the runtime resolves", () => {
  const passwd = 'root:x:0:0::/root:/bin/sh\nweb:x:1000:1001::/home/web:/bin/sh\n';
  const files = (user?: string) => ({ user, passwd, group: 'root:x:0:\n' });
  const where = '(pod: "demo_default(1111-2222)", container: app)';
  const nonRoot = (sc: Record<string, unknown> = {}) => pod({ securityContext: { runAsNonRoot: true, ...sc } });
  it('an image without USER, or USER 0, runs as root: CreateContainerConfigError', () => {
    const refusal = {
      reason: 'CreateContainerConfigError',
      message: `container has runAsNonRoot and image will run as root ${where}`,
    };
    expect(processUser(nonRoot(), container('app'), files())).toEqual(refusal);
    expect(processUser(nonRoot(), container('app'), files('0:5'))).toEqual(refusal);
  });
  it('runAsUser 0 breaks the policy; another runAsUser passes whatever the image says', () => {
    expect(processUser(nonRoot({ runAsUser: 0 }), container('app'), files('web'))).toEqual({
      reason: 'CreateContainerConfigError',
      message: `container's runAsUser breaks non-root policy ${where}`,
    });
    expect(processUser(nonRoot({ runAsUser: 1000 }), container('app'), files())).toEqual({
      uid: 1000,
      gid: 1001,
      additionalGids: [1001],
    });
  });
  it('a user name cannot be verified, even one the image knows as non-root', () => {
    expect(processUser(nonRoot(), container('app'), files('web'))).toEqual({
      reason: 'CreateContainerConfigError',
      message: `container has runAsNonRoot and image has non-numeric user (web), cannot verify user is non-root ${where}`,
    });
  });
  it("fsGroup and supplementalGroups join the groups; supplementalGroupsPolicy Strict leaves out the image's", () => {
    const image = { user: 'web', passwd, group: 'root:x:0:\nextra:x:50:web\n' };
    const sc = { runAsGroup: 3000, fsGroup: 2000, supplementalGroups: [4000] };
    expect(processUser(pod({ securityContext: sc }), container('app'), image)).toEqual({
      uid: 1000,
      gid: 3000,
      additionalGids: [50, 2000, 3000, 4000],
    });
    const strict = pod({ securityContext: { ...sc, supplementalGroupsPolicy: 'Strict' } });
    expect(processUser(strict, container('app'), image)).toEqual({
      uid: 1000,
      gid: 3000,
      additionalGids: [2000, 3000, 4000],
    });
  });
  it('a user name the image lacks is CreateContainerError (found when the runtime creates the container)', () => {
    expect(processUser(pod(), container('app'), files('nobody'))).toEqual({
      reason: 'CreateContainerError',
      message: 'user "nobody" is not in the image\'s /etc/passwd',
    });
  });
});
