import { describe, expect, it } from 'vitest';
import { parseManifest, defaultPullPolicy } from '../../src/api/manifest.js';
import { containerEnv, expandCommand } from '../../src/api/env.js';
import { expand } from '../../src/api/env.js';
import { PodboxError } from '../../src/errors.js';

const minimal = `
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    image: localhost/busybox:test
`;

function errorOf(text: string): PodboxError {
  try {
    parseManifest(text, 'pod.yaml');
  } catch (e) {
    if (e instanceof PodboxError) return e;
    throw e;
  }
  throw new Error('manifest was accepted');
}

describe('parseManifest defaults (pkg/apis/core/v1/defaults.go)', () => {
  it('fills in what the API server fills in', () => {
    const { pod } = parseManifest(minimal, 'pod.yaml');
    expect(pod.metadata.namespace).toBe('default');
    expect(pod.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(pod.spec.restartPolicy).toBe('Always');
    expect(pod.spec.terminationGracePeriodSeconds).toBe(30);
    expect(pod.spec.dnsPolicy).toBe('ClusterFirst');
    expect(pod.spec.schedulerName).toBe('default-scheduler');
    expect(pod.spec.securityContext).toEqual({});
    const c = pod.spec.containers[0]!;
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.terminationMessagePath).toBe('/dev/termination-log');
    expect(c.terminationMessagePolicy).toBe('File');
  });

  it('defaults imagePullPolicy to Always for :latest and untagged images only', () => {
    expect(defaultPullPolicy('busybox')).toBe('Always');
    expect(defaultPullPolicy('busybox:latest')).toBe('Always');
    expect(defaultPullPolicy('localhost:5000/busybox')).toBe('Always');
    expect(defaultPullPolicy('localhost:5000/busybox:1.36')).toBe('IfNotPresent');
    expect(defaultPullPolicy('busybox@sha256:' + 'a'.repeat(64))).toBe('IfNotPresent');
  });

  it('accepts JSON, keeps the pod as written, and drops a status', () => {
    const json = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'j' },
      spec: { containers: [{ name: 'a', image: 'x:1' }] },
      status: { phase: 'Running' },
    });
    const m = parseManifest(json, 'pod.json');
    expect(m.pod.metadata.name).toBe('j');
    expect(m.original).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'j' },
      spec: { containers: [{ name: 'a', image: 'x:1' }] },
    });
  });

  it('makes a name from generateName', () => {
    const { pod } = parseManifest(minimal.replace('{name: web}', '{generateName: web-}'), 'pod.yaml');
    expect(pod.metadata.name).toMatch(/^web-[a-z0-9]{5}$/);
  });

  it('reads ConfigMaps and Secrets from the same file', () => {
    const m = parseManifest(
      `${minimal}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {mode: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: pw}
data: {password: aHVudGVyMg==}
`,
      'pod.yaml',
    );
    expect(m.configMaps.get('cfg')?.data).toEqual({ mode: 'fast' });
    expect(m.secrets.get('pw')?.type).toBe('Opaque');
  });
});

describe('parseManifest errors: one line naming the file, the object and the field', () => {
  it('names an unknown field by its path', () => {
    const e = errorOf(minimal.replace('image:', 'imagee:'));
    expect(e.code).toBe('InvalidManifest');
    expect(e.toLine()).toBe(
      'pod.yaml: pod "web" is invalid: spec.containers[0].imagee: unknown field (and 1 more problem): remove it or fix its spelling (`kubectl explain pod.spec.containers` lists the fields)',
    );
  });

  it('says where the YAML is broken', () => {
    expect(errorOf('apiVersion: v1\nkind: Pod\nspec: [a\n').toLine()).toMatch(
      /^pod\.yaml: line \d+, column \d+: .+: fix the YAML$/,
    );
  });

  it('rejects a missing image, bad names, enums and ranges as the API server does', () => {
    expect(errorOf(minimal.replace('    image: localhost/busybox:test\n', '')).message).toBe(
      'pod.yaml: pod "web" is invalid: spec.containers[0].image: Required value',
    );
    expect(errorOf(minimal.replace('name: web', 'name: Web')).message).toMatch(
      /^pod\.yaml: pod "Web" is invalid: metadata\.name: Invalid value "Web": must be a lowercase RFC 1123 subdomain/,
    );
    expect(errorOf(minimal.replace('spec:\n', 'spec:\n  restartPolicy: Sometimes\n')).message).toBe(
      'pod.yaml: pod "web" is invalid: spec.restartPolicy: Unsupported value "Sometimes": supported values: "Always", "OnFailure", "Never"',
    );
    expect(errorOf(minimal.replace('    image:', '    ports: [{containerPort: 0}]\n    image:')).message).toBe(
      'pod.yaml: pod "web" is invalid: spec.containers[0].ports[0].containerPort: Invalid value 0: must be between 1 and 65535',
    );
  });

  it('procMount Unmasked needs hostUsers: false, as the API server says', () => {
    const unmasked = minimal.replace('    image:', '    securityContext: {procMount: Unmasked}\n    image:');
    expect(errorOf(unmasked).message).toBe(
      'pod.yaml: pod "web" is invalid: spec.containers[0].securityContext.procMount: Invalid value: "Unmasked": ' +
        '`hostUsers` must be false to use `Unmasked`',
    );
    const c = parseManifest(unmasked.replace('spec:\n', 'spec:\n  hostUsers: false\n'), 'pod.yaml').pod.spec
      .containers[0]!;
    expect(c.securityContext?.procMount).toBe('Unmasked');
  });

  it('rejects duplicate container names across init and app containers', () => {
    const text = minimal.replace('spec:\n', 'spec:\n  initContainers: [{name: app, image: x:1}]\n');
    expect(errorOf(text).message).toBe(
      'pod.yaml: pod "web" is invalid: spec.containers[0].name: Duplicate value: "app"',
    );
  });

  it('allows probes and hooks on init containers only when they are sidecars', () => {
    const init = (extra: string) =>
      minimal.replace('spec:\n', `spec:\n  initContainers: [{name: i, image: x:1${extra}}]\n`);
    expect(errorOf(init(', readinessProbe: {exec: {command: ["true"]}}')).message).toBe(
      'pod.yaml: pod "web" is invalid: spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always',
    );
    expect(errorOf(init(', lifecycle: {postStart: {exec: {command: ["true"]}}}')).message).toBe(
      'pod.yaml: pod "web" is invalid: spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always',
    );
    const sidecar = parseManifest(init(', restartPolicy: Always, startupProbe: {tcpSocket: {port: 80}}'), 'pod.yaml');
    expect(sidecar.pod.spec.initContainers![0]!.startupProbe).toMatchObject({
      periodSeconds: 10,
      timeoutSeconds: 1,
      failureThreshold: 3,
      successThreshold: 1,
      initialDelaySeconds: 0,
    });
  });

  it('rejects a mount of a volume that does not exist, and subPaths that escape', () => {
    expect(errorOf(minimal + '    volumeMounts: [{name: data, mountPath: /data}]\n').message).toBe(
      'pod.yaml: pod "web" is invalid: spec.containers[0].volumeMounts[0].name: Not found: "data"',
    );
    expect(
      errorOf(
        minimal +
          '    volumeMounts: [{name: data, mountPath: /data, subPath: ../x}]\n  volumes: [{name: data, emptyDir: {}}]\n',
      ).message,
    ).toBe(
      'pod.yaml: pod "web" is invalid: spec.containers[0].volumeMounts[0].subPath: Invalid value "../x": must be a relative path without \'..\'',
    );
  });

  it('names a ConfigMap that is not in the file', () => {
    const e = errorOf(minimal + '    envFrom: [{configMapRef: {name: cfg}}]\n');
    expect(e.toLine()).toBe(
      'pod.yaml: pod "web" is invalid: spec.containers[0].envFrom[0].configMapRef: configmap "cfg" not found: put a v1 ConfigMap named cfg in the same file (separated by ---), or mark the reference optional',
    );
    expect(() =>
      parseManifest(minimal + '    envFrom: [{configMapRef: {name: cfg, optional: true}}]\n', 'pod.yaml'),
    ).not.toThrow();
  });

  it('refuses Kubernetes fields podbox does not implement, naming them', () => {
    const e = errorOf(minimal.replace('spec:\n', 'spec:\n  hostPID: true\n'));
    expect(e.code).toBe('UnsupportedField');
    expect(e.message).toBe(
      'pod.yaml: pod "web": spec.hostPID: hostPID is not supported: a podbox pod never sees host processes',
    );
    expect(errorOf(minimal + '    securityContext: {privileged: true}\n').message).toBe(
      'pod.yaml: pod "web": spec.containers[0].securityContext.privileged: privileged containers are not ' +
        "supported: podbox gives no container the host's devices or every capability; add the capabilities it " +
        'needs (capabilities.add) instead',
    );
    expect(errorOf(minimal + '  volumes: [{name: h, nfs: {server: x, path: /}}]\n').message).toBe(
      'pod.yaml: pod "web": spec.volumes[0].nfs: nfs is not a supported volume type: ' +
        'podbox supports emptyDir, hostPath, persistentVolumeClaim, configMap, secret, downwardAPI, projected and image',
    );
  });

  it('accepts scheduling fields and false host flags, which mean nothing on one machine', () => {
    expect(() =>
      parseManifest(
        minimal.replace(
          'spec:\n',
          'spec:\n  hostNetwork: false\n  nodeSelector: {disk: ssd}\n  tolerations: [{operator: Exists}]\n  serviceAccountName: builder\n',
        ),
        'pod.yaml',
      ),
    ).not.toThrow();
  });

  it('refuses other kinds and more than one pod', () => {
    expect(errorOf('apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n').toLine()).toBe(
      'pod.yaml: apps/v1/Deployment "d" is not something podbox runs: give one v1 Pod, with the v1 ConfigMaps, Secrets and PersistentVolumeClaims it uses',
    );
    expect(errorOf(`${minimal}---${minimal}`).message).toBe('pod.yaml: holds more than one Pod (document 2)');
    expect(errorOf('').message).toBe('pod.yaml: holds no Pod');
  });
});

describe('containerEnv (kubelet makeEnvironmentVariables)', () => {
  const m = parseManifest(
    `
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {tier: front}}
spec:
  containers:
  - name: app
    image: x:1
    envFrom:
    - configMapRef: {name: cfg}
      prefix: CFG_
    env:
    - {name: A, value: one}
    - {name: B, value: "$(A)-two-$(CFG_mode)-$(NOPE)-$$(A)"}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: TIER, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
    - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    - {name: CPUS, valueFrom: {resourceFieldRef: {containerName: app, resource: limits.cpu}}}
    - {name: PW, valueFrom: {secretKeyRef: {name: pw, key: password}}}
    - {name: GONE, valueFrom: {configMapKeyRef: {name: missing, key: k, optional: true}}}
    - {name: A, value: replaced}
    command: [sh, -c, 'echo $(A) $(POD)']
    resources: {limits: {memory: 64Mi}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {mode: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: pw}
data: {password: aHVudGVyMg==}
`,
    'pod.yaml',
  );

  it('puts envFrom first, expands $(VAR) from earlier variables, resolves references', () => {
    const node = { cpu: 2, memory: 2 ** 30, ephemeralStorage: 2 ** 34 };
    const env = containerEnv(m.pod.spec.containers[0]!, m, { podIP: '10.88.0.2', hostIP: '10.88.0.1' }, node);
    expect(env).toEqual([
      'CFG_mode=fast',
      'A=replaced',
      'B=one-two-fast-$(NOPE)-$(A)',
      'POD=web',
      'TIER=front',
      'IP=10.88.0.2',
      'MEM=64',
      'CPUS=2', // no limit: the node's allocatable
      'PW=hunter2',
    ]);
    expect(expandCommand(m.pod.spec.containers[0]!, env).command).toEqual(['sh', '-c', 'echo replaced web']);
  });

  it('expands like Kubernetes: $$ escapes, unknown and unterminated references stay', () => {
    const vars = new Map([['X', '1']]);
    expect(expand('$(X)$$(X)$$$(X)$(Y)$X$(X', vars)).toBe('1$(X)$1$(Y)$X$(X');
  });
});

describe('parseManifest reads YAML as the API server does (sigs.k8s.io/yaml over go-yaml v2: YAML 1.1)', () => {
  const withVolumes = (volumes: string, mount = 'readOnly: true') => `
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {day: 2001-12-14, at: 12:30}}
spec:
  containers:
  - {name: app, image: localhost/busybox:test, volumeMounts: [{name: s, mountPath: /s, ${mount}}]}
  volumes:
${volumes}
---
apiVersion: v1
kind: Secret
metadata: {name: pw}
stringData: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {k: v}
`;

  it('reads modes with a leading 0 as octal, on secrets and configMaps, items and defaultMode', () => {
    const { pod } = parseManifest(
      withVolumes(`
  - name: s
    secret: {secretName: pw, defaultMode: 0400, items: [{key: k, path: a, mode: 0440}]}
  - name: c
    configMap: {name: cfg, defaultMode: 0755, items: [{key: k, path: a, mode: 0600}]}`),
      'pod.yaml',
    );
    expect(pod.spec.volumes).toEqual([
      { name: 's', secret: { secretName: 'pw', defaultMode: 0o400, items: [{ key: 'k', path: 'a', mode: 0o440 }] } },
      { name: 'c', configMap: { name: 'cfg', defaultMode: 0o755, items: [{ key: 'k', path: 'a', mode: 0o600 }] } },
    ]);
  });

  it('reads 0o, 0x and upper-case prefixes as Go strconv.ParseInt(s, 0, 64) does', () => {
    const { pod } = parseManifest(
      withVolumes(`
  - name: s
    secret: {secretName: pw, defaultMode: 0o400, items: [{key: k, path: a, mode: 0X1FF}, {key: k, path: b, mode: 0O4_4_0}]}`),
      'pod.yaml',
    );
    expect(pod.spec.volumes![0]!.secret).toEqual({
      secretName: 'pw',
      defaultMode: 256,
      items: [
        { key: 'k', path: 'a', mode: 511 },
        { key: 'k', path: 'b', mode: 288 },
      ],
    });
  });

  it('reads yes/no/on/off as booleans, and leaves timestamps and base-60 numbers strings', () => {
    const { pod } = parseManifest(
      withVolumes(
        `
  - name: s
    secret: {secretName: pw, optional: off}`,
        'readOnly: yes',
      ),
      'pod.yaml',
    );
    expect(pod.spec.containers[0]!.volumeMounts![0]!.readOnly).toBe(true);
    expect(pod.spec.volumes![0]!.secret!.optional).toBe(false);
    expect(pod.metadata.labels).toEqual({ day: '2001-12-14', at: '12:30' });
  });

  it('refuses a 1.1 boolean where the API server wants a string', () => {
    expect(
      errorOf(
        minimal.replace('image: localhost/busybox:test', 'image: localhost/busybox:test\n    command: [echo, yes]'),
      ).message,
    ).toBe(
      'pod.yaml: pod "web" is invalid: spec.containers[0].command[1]: Invalid value true: expected string, received boolean',
    );
  });

  it('reads JSON as JSON: a number with an exponent is a number', () => {
    const json = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'j' },
      spec: { containers: [{ name: 'a', image: 'x:1' }] },
    });
    const { pod } = parseManifest(json.replace('"spec":{', '"spec":{"terminationGracePeriodSeconds":1e1,'), 'pod.json');
    expect(pod.spec.terminationGracePeriodSeconds).toBe(10);
  });
});

describe('host ports', () => {
  it('hostNetwork: hostPort defaults to containerPort, and must equal it', () => {
    const host = minimal.replace('spec:\n', 'spec:\n  hostNetwork: true\n');
    const m = parseManifest(host + '    ports: [{containerPort: 8080}]\n', 'pod.yaml');
    expect(m.pod.spec.containers[0]!.ports).toEqual([{ containerPort: 8080, protocol: 'TCP', hostPort: 8080 }]);
    expect(() => parseManifest(host + '    ports: [{containerPort: 8080, hostPort: 9090}]\n', 'pod.yaml')).toThrow(
      'pod.yaml: pod "web" is invalid: spec.containers[0].ports[0].hostPort: Invalid value: 9090: must match `containerPort` ' +
        'when `hostNetwork` is true',
    );
  });

  it('a pod network: hostPort and hostIP are taken as given', () => {
    const m = parseManifest(minimal + '    ports: [{containerPort: 80, hostPort: 8080, hostIP: 127.0.0.1}]\n', 'p');
    expect(m.pod.spec.containers[0]!.ports).toEqual([
      { containerPort: 80, protocol: 'TCP', hostPort: 8080, hostIP: '127.0.0.1' },
    ]);
  });
});
