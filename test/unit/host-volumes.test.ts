import { describe, it, expect } from 'vitest';
import { constants } from 'node:fs';
import { hostPathTypeProblem } from '../../src/volume/host-path.js';
import { parseManifest } from '../../src/api/manifest.js';
import { PodMachine, type Action } from '../../src/lifecycle/pod-machine.js';
import { KUBELET_BACKOFF } from '../../src/lifecycle/timing.js';
import { pod, FakeClock } from '../helpers/fixtures.js';

const starts = (a: Action[]) => a.filter((x) => x.type === 'start').map((x) => (x as { container: string }).container);

describe('hostPathTypeProblem: host_path.go checkTypeInternal', () => {
  const { S_IFDIR, S_IFREG, S_IFSOCK, S_IFCHR, S_IFBLK, S_IFIFO } = constants;
  it('passes the matching kind and says the kubelet words otherwise', () => {
    expect(hostPathTypeProblem('/x', '', undefined)).toBeUndefined();
    expect(hostPathTypeProblem('/x', 'Directory', S_IFDIR | 0o755)).toBeUndefined();
    expect(hostPathTypeProblem('/x', 'DirectoryOrCreate', S_IFREG)).toBe(
      'hostPath type check failed: /x is not a directory',
    );
    expect(hostPathTypeProblem('/x', 'File', undefined)).toBe('hostPath type check failed: /x is not a file');
    expect(hostPathTypeProblem('/x', 'FileOrCreate', S_IFREG | 0o644)).toBeUndefined();
    // hostutil GetFileType knows no FIFO: it is no file.
    expect(hostPathTypeProblem('/x', 'File', S_IFIFO)).toBe('hostPath type check failed: /x is not a file');
    expect(hostPathTypeProblem('/x', 'Socket', S_IFREG)).toBe('hostPath type check failed: /x is not a socket file');
    expect(hostPathTypeProblem('/x', 'Socket', S_IFSOCK)).toBeUndefined();
    expect(hostPathTypeProblem('/x', 'CharDevice', S_IFBLK)).toBe(
      'hostPath type check failed: /x is not a character device',
    );
    expect(hostPathTypeProblem('/x', 'CharDevice', S_IFCHR)).toBeUndefined();
    expect(hostPathTypeProblem('/x', 'BlockDevice', S_IFCHR)).toBe(
      'hostPath type check failed: /x is not a block device',
    );
  });
});

describe('manifest: hostPath, persistentVolumeClaim and PersistentVolumeClaim documents', () => {
  const podYaml = `apiVersion: v1
kind: Pod
metadata: {name: db}
spec:
  containers: [{name: app, image: x}]
  volumes:
  - {name: src, hostPath: {path: /srv/src}}
  - {name: data, persistentVolumeClaim: {claimName: db-data}}
`;
  const claimYaml = `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: db-data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  storageClassName: standard
`;
  it('defaults hostPath.type to "" and reads the claim documents of the file', () => {
    const m = parseManifest(`${podYaml}---\n${claimYaml}`, 'pod.yaml');
    expect(m.pod.spec.volumes![0]).toEqual({ name: 'src', hostPath: { path: '/srv/src', type: '' } });
    expect(m.claims?.get('db-data')?.spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '1Gi' } },
      storageClassName: 'standard',
    });
  });
  it("refuses a claim document as the API server does, and Block volumes as podbox can't", () => {
    const bad = (spec: string) => () => parseManifest(`${podYaml}---\n${claimYaml.replace(/spec:[^]*$/, spec)}`, 'p');
    expect(bad('spec: {resources: {requests: {storage: 1Gi}}}')).toThrow(
      'p: persistentvolumeclaim "db-data" is invalid: spec.accessModes: Required value',
    );
    expect(bad('spec: {accessModes: [ReadWriteOnce], resources: {requests: {}}}')).toThrow(
      'spec.resources.requests: Invalid value: required value: storage',
    );
    expect(
      bad('spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}, volumeMode: Block}'),
    ).toThrow('spec.volumeMode: volumeMode Block is not supported: podbox volumes are directories');
  });
});

describe('PodMachine.mountFailed: the volume manager waits and retries', () => {
  it('leaves the container ContainerCreating with a counted FailedMount pod event, retried 0.5s, 1s, 2s...', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod({ restartPolicy: 'Never' }), clock, KUBELET_BACKOFF);
    m.sandboxReady();
    const message = 'hostPath type check failed: /x is not a directory';
    for (const delay of [500, 1000, 2000, 4000]) {
      expect(starts(m.actions())).toEqual(['app']);
      m.mountFailed('app', 'v', message);
      expect(m.status().containerStatuses[0]).toMatchObject({
        restartCount: 0,
        state: { waiting: { reason: 'ContainerCreating' } },
      });
      expect(m.status().phase).toBe('Pending');
      expect(m.wakeAt()).toBe(clock.t + delay);
      clock.t += delay - 1;
      expect(starts(m.actions())).toEqual([]);
      clock.t += 1;
    }
    const e = m.eventLog().find((x) => x.reason === 'FailedMount')!;
    expect([e.type, e.message, e.count, e.fieldPath]).toEqual([
      'Warning',
      `MountVolume.SetUp failed for volume "v" : ${message}`,
      4,
      undefined,
    ]);
    expect(starts(m.actions())).toEqual(['app']);
    m.started('app', 'x');
    expect(m.status().phase).toBe('Running');
  });
});
