import { describe, it, expect, beforeAll } from 'vitest';
import { describePod, describeProbe, type DescribeInput } from '../../src/cli/describe.js';
import { rfc1123z } from '../../src/kubectl/time.js';
import { tabwrite } from '../../src/kubectl/table.js';
import type { ContainerStatus, PodCondition, PodEvent, PodStatus } from '../../src/api/status.js';
import type { Probe } from '../../src/api/types.js';
import { container, object, pod } from '../helpers/fixtures.js';

// kubectl prints times in the local zone; pin it so the expected text is exact.
beforeAll(() => {
  process.env.TZ = 'UTC';
});

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const cond = (type: PodCondition['type'], ok: boolean): PodCondition => ({
  type,
  status: ok ? 'True' : 'False',
  lastProbeTime: null,
  lastTransitionTime: at(0),
});
const event = (reason: string, message: string, first: number, extra: Partial<PodEvent> = {}): PodEvent => ({
  type: 'Normal',
  reason,
  message,
  count: 1,
  firstTimestamp: at(first),
  lastTimestamp: at(first),
  ...extra,
});
const cs = (name: string, extra: Partial<ContainerStatus>): ContainerStatus => ({
  name,
  image: 'localhost/busybox:test',
  imageID: 'sha256:1234',
  containerID: `runc://${name}.0`,
  ready: false,
  started: false,
  restartCount: 0,
  state: { waiting: { reason: 'ContainerCreating' } },
  lastState: {},
  ...extra,
});
const status = (extra: Partial<PodStatus>): PodStatus => ({
  phase: 'Running',
  hostIP: '127.0.0.1',
  podIP: '127.0.0.1',
  podIPs: [{ ip: '127.0.0.1' }],
  startTime: at(0),
  conditions: [
    cond('PodScheduled', true),
    cond('Initialized', true),
    cond('ContainersReady', true),
    cond('Ready', true),
  ],
  containerStatuses: [],
  qosClass: 'BestEffort',
  ...extra,
});
const probe = (p: Partial<Probe>): Probe => ({
  initialDelaySeconds: 0,
  timeoutSeconds: 1,
  periodSeconds: 10,
  successThreshold: 1,
  failureThreshold: 3,
  ...p,
});

describe('kubectl describe pod layout', () => {
  it('a finished pod with an init container, as kubectl lays it out', () => {
    const p = pod(
      {
        restartPolicy: 'Never',
        initContainers: [container('init', { command: ['sh', '-c', 'echo hi'] })],
        containers: [
          container('web', {
            ports: [{ containerPort: 8080, protocol: 'TCP', name: 'http' }],
            env: [
              { name: 'GREETING', value: 'hello' },
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            ],
            livenessProbe: probe({ httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' } }),
            volumeMounts: [
              { name: 'cache', mountPath: '/cache' },
              { name: 'cfg', mountPath: '/etc/app', readOnly: true },
            ],
          }),
        ],
        volumes: [
          { name: 'cache', emptyDir: {} },
          { name: 'cfg', configMap: { name: 'app-config', defaultMode: 0o644 } },
        ],
      },
      'demo',
      [object('ConfigMap', 'app-config')],
    );
    p.metadata.labels = { tier: 'web', app: 'demo' };
    const input: DescribeInput = {
      pod: p,
      original: {},
      status: status({
        phase: 'Failed',
        conditions: [
          cond('PodScheduled', true),
          cond('Initialized', true),
          cond('ContainersReady', false),
          cond('Ready', false),
        ],
        initContainerStatuses: [
          cs('init', {
            state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: at(1), finishedAt: at(2) } },
          }),
        ],
        containerStatuses: [
          cs('web', { state: { terminated: { exitCode: 1, reason: 'Error', startedAt: at(2), finishedAt: at(7) } } }),
        ],
      }),
      events: [
        event('Scheduled', 'Successfully assigned default/demo to podbox', 0),
        event('Pulled', 'Container image "localhost/busybox:test" already present on machine', 0, {
          fieldPath: 'spec.initContainers{init}',
        }),
        event('Created', 'Created container init', 0, { fieldPath: 'spec.initContainers{init}' }),
        event('Started', 'Started container init', 1, { fieldPath: 'spec.initContainers{init}' }),
        event('Started', 'Started container web', 2, { fieldPath: 'spec.containers{web}' }),
      ],
    };
    expect(describePod(input, T0 + 132_000)).toBe(`\
Name:             demo
Namespace:        default
Priority:         0
Service Account:  default
Node:             podbox/127.0.0.1
Start Time:       Thu, 01 Jan 2026 00:00:00 +0000
Labels:           app=demo
                  tier=web
Annotations:      <none>
Status:           Failed
IP:               127.0.0.1
IPs:
  IP:  127.0.0.1
Init Containers:
  init:
    Container ID:  runc://init.0
    Image:         localhost/busybox:test
    Image ID:      sha256:1234
    Port:          <none>
    Host Port:     <none>
    Command:
      sh
      -c
      echo hi
    State:          Terminated
      Reason:       Completed
      Exit Code:    0
      Started:      Thu, 01 Jan 2026 00:00:01 +0000
      Finished:     Thu, 01 Jan 2026 00:00:02 +0000
    Ready:          False
    Restart Count:  0
    Environment:    <none>
    Mounts:         <none>
Containers:
  web:
    Container ID:   runc://web.0
    Image:          localhost/busybox:test
    Image ID:       sha256:1234
    Port:           8080/TCP (http)
    Host Port:      0/TCP (http)
    State:          Terminated
      Reason:       Error
      Exit Code:    1
      Started:      Thu, 01 Jan 2026 00:00:02 +0000
      Finished:     Thu, 01 Jan 2026 00:00:07 +0000
    Ready:          False
    Restart Count:  0
    Liveness:       http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3
    Environment:
      GREETING:  hello
      POD_NAME:  demo (v1:metadata.name)
      POD_IP:     (v1:status.podIP)
    Mounts:
      /cache from cache (rw)
      /etc/app from cfg (ro)
Conditions:
  Type              Status
  PodScheduled      True 
  Initialized       True 
  ContainersReady   False 
  Ready             False 
Volumes:
  cache:
    Type:       EmptyDir (a temporary directory that shares a pod's lifetime)
    Medium:     
    SizeLimit:  <unset>
  cfg:
    Type:        ConfigMap (a volume populated by a ConfigMap)
    Name:        app-config
    Optional:    false
QoS Class:       BestEffort
Node-Selectors:  <none>
Tolerations:     <none>
Events:
  Type    Reason     Age    From               Message
  ----    ------     ----   ----               -------
  Normal  Scheduled  2m12s  default-scheduler  Successfully assigned default/demo to podbox
  Normal  Pulled     2m12s  kubelet            Container image "localhost/busybox:test" already present on machine
  Normal  Created    2m12s  kubelet            Created container init
  Normal  Started    2m11s  kubelet            Started container init
  Normal  Started    2m10s  kubelet            Started container web
`);
  });

  it('a crash-looping container: Waiting, Last State, restart count, aggregated events', () => {
    const p = pod({
      containers: [
        container('app', {
          args: ['--port', '80'],
          resources: { limits: { memory: '64Mi', cpu: '500m' }, requests: { cpu: '250m' } },
        }),
      ],
    });
    const input: DescribeInput = {
      pod: p,
      original: {},
      status: status({
        qosClass: 'Burstable',
        conditions: [
          cond('PodScheduled', true),
          cond('Initialized', true),
          cond('ContainersReady', false),
          cond('Ready', false),
        ],
        containerStatuses: [
          cs('app', {
            restartCount: 4,
            state: {
              waiting: {
                reason: 'CrashLoopBackOff',
                message: 'back-off 40s restarting failed container=app pod=demo_default(1111-2222)',
              },
            },
            lastState: {
              terminated: { exitCode: 137, signal: 9, reason: 'Error', startedAt: at(290), finishedAt: at(300) },
            },
          }),
        ],
      }),
      events: [
        event('Scheduled', 'Successfully assigned default/demo to podbox', 0),
        event('Started', 'Started container app', 0, {
          fieldPath: 'spec.containers{app}',
          count: 5,
          lastTimestamp: at(290),
        }),
        event('BackOff', 'Back-off restarting failed container app in pod demo_default(1111-2222)', 10, {
          type: 'Warning',
          fieldPath: 'spec.containers{app}',
          count: 4,
          lastTimestamp: at(300),
        }),
      ],
    };
    const out = describePod(input, T0 + 303_000);
    expect(out).toContain(`\
    Args:
      --port
      80
    State:          Waiting
      Reason:       CrashLoopBackOff
    Last State:     Terminated
      Reason:       Error
      Exit Code:    137
      Signal:       9
      Started:      Thu, 01 Jan 2026 00:04:50 +0000
      Finished:     Thu, 01 Jan 2026 00:05:00 +0000
    Ready:          False
    Restart Count:  4
    Limits:
      cpu:     500m
      memory:  64Mi
    Requests:
      cpu:        250m
    Environment:  <none>
    Mounts:       <none>
`);
    // Volumes, QoS Class... line up with the Conditions rows above them (one tabwriter block).
    expect(out).toContain(
      '  ContainersReady   False \n  Ready             False \nVolumes:            <none>\nQoS Class:          Burstable\n',
    );
    expect(out.slice(out.indexOf('Events:'))).toBe(`\
Events:
  Type     Reason     Age                 From               Message
  ----     ------     ----                ----               -------
  Normal   Scheduled  5m3s                default-scheduler  Successfully assigned default/demo to podbox
  Normal   Started    13s (x5 over 5m3s)  kubelet            Started container app
  Warning  BackOff    3s (x4 over 4m53s)  kubelet            Back-off restarting failed container app in pod demo_default(1111-2222)
`);
  });

  it('a pod not started yet: no status lines per container, no start time, Events <none>', () => {
    const out = describePod(
      {
        pod: pod(),
        original: {},
        status: {
          phase: 'Pending',
          conditions: [],
          hostIP: '127.0.0.1',
          containerStatuses: [],
          qosClass: 'BestEffort',
        },
        events: [],
      },
      T0,
    );
    expect(out).toBe(`\
Name:             demo
Namespace:        default
Priority:         0
Service Account:  default
Node:             podbox/127.0.0.1
Labels:           <none>
Annotations:      <none>
Status:           Pending
IP:               
IPs:              <none>
Containers:
  app:
    Image:        localhost/busybox:test
    Port:         <none>
    Host Port:    <none>
    Environment:  <none>
    Mounts:       <none>
Volumes:          <none>
QoS Class:        BestEffort
Node-Selectors:   <none>
Tolerations:      <none>
Events:           <none>
`);
  });

  it('a running container; a pod being deleted is Terminating; a lost pod shows its reason', () => {
    const running = status({
      containerStatuses: [cs('app', { ready: true, started: true, state: { running: { startedAt: at(3) } } })],
    });
    const deleting = describePod(
      {
        pod: pod(),
        original: {},
        status: running,
        events: [],
        deletion: { requestedAt: T0 + 10_000, gracePeriodSeconds: 30 },
      },
      T0 + 50_000,
    );
    expect(deleting).toContain('Status:                    Terminating (lasts 10s)\nTermination Grace Period:  30s\n');
    expect(deleting).toContain(
      '    State:          Running\n      Started:      Thu, 01 Jan 2026 00:00:03 +0000\n    Ready:          True\n',
    );
    // kubectl prints <invalid> while deletionTimestamp (request + grace) is still ahead.
    expect(
      describePod(
        {
          pod: pod(),
          original: {},
          status: running,
          events: [],
          deletion: { requestedAt: T0 + 10_000, gracePeriodSeconds: 30 },
        },
        T0 + 12_000,
      ),
    ).toContain('Terminating (lasts <invalid>)');
    const lost = describePod(
      {
        pod: pod(),
        original: {},
        status: {
          ...running,
          phase: 'Unknown',
          reason: 'SupervisorLost',
          message: 'the podbox process supervising this pod died',
        },
        events: [],
      },
      T0,
    );
    expect(lost).toContain(
      'Status:           Unknown\nReason:           SupervisorLost\nMessage:          the podbox process supervising this pod died\n',
    );
  });

  it('a container whose log could not be written: the lines lost, from its LogLinesLost events', () => {
    const app = cs('app', { ready: true, started: true, state: { running: { startedAt: at(3) } } });
    const running = status({ containerStatuses: [app] });
    const message = (cause: string) => `Failed to write the log of container app, its lines were dropped: ${cause}`;
    const lostEvent = (n: number, cause: string) =>
      event('LogLinesLost', message(cause), 4, { type: 'Warning', count: n, fieldPath: 'spec.containers{app}' });
    const events = [lostEvent(480, 'ENOSPC'), lostEvent(8, 'EIO')];
    const out = describePod({ pod: pod(), original: {}, status: running, events }, T0 + 10_000);
    expect(out).toContain('    Restart Count:   0\n    Log Lines Lost:  488\n    Environment:     <none>\n');
    expect(out).toContain(`  Warning  LogLinesLost  6s (x480 over 6s)  kubelet  ${message('ENOSPC')}\n`);
    expect(describePod({ pod: pod(), original: {}, status: running, events: [] }, T0)).not.toContain('Log Lines Lost');
  });

  it('annotations, env from ConfigMaps and Secrets, secret volumes, fields accepted from the manifest', () => {
    const p = pod(
      {
        containers: [
          container('app', {
            envFrom: [{ configMapRef: { name: 'cm' } }, { prefix: 'S_', secretRef: { name: 'sec', optional: true } }],
            env: [
              { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'sec', key: 'pw' } } },
              { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'cm', key: 'level', optional: true } } },
              { name: 'MULTI', value: 'a\nb' },
            ],
          }),
        ],
        volumes: [{ name: 'tls', secret: { secretName: 'tls-cert', optional: true, defaultMode: 0o644 } }],
      },
      'demo',
      [object('ConfigMap', 'cm'), object('Secret', 'sec', { pw: 'c2VjcmV0' })],
    );
    p.metadata.annotations = {
      'example.com/note': 'hello',
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
      'example.com/long': 'x'.repeat(150),
    };
    const out = describePod(
      {
        pod: p,
        original: {
          spec: {
            priority: 7,
            nodeSelector: { disk: 'ssd' },
            tolerations: [{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }],
          },
        },
        status: status({}),
        events: [],
      },
      T0,
    );
    expect(out).toContain(
      `Annotations:      example.com/long:\n                    ${'x'.repeat(138)}...\n                  example.com/note: hello\n`,
    );
    expect(out).toContain('Priority:         7\n');
    expect(out).toContain(`\
    Environment Variables from:
      cm   ConfigMap                Optional: false
      sec  Secret with prefix 'S_'  Optional: true
    Environment:
      PASSWORD:  <set to the key 'pw' in secret 'sec'>        Optional: false
      LEVEL:     <set to the key 'level' of config map 'cm'>  Optional: true
      MULTI:     a
                 b
`);
    expect(out).toContain(`\
Volumes:
  tls:
    Type:        Secret (a volume populated by a Secret)
    SecretName:  tls-cert
    Optional:    true
QoS Class:       BestEffort
Node-Selectors:  disk=ssd
Tolerations:     gpu:NoSchedule op=Exists
Events:          <none>
`);
  });
});

describe('kubectl describe: host volumes', () => {
  it('HostPath and PersistentVolumeClaim as printHostPathVolumeSource and printPersistentVolumeClaimVolumeSource', () => {
    const p = pod({
      containers: [container('app')],
      volumes: [
        { name: 'src', hostPath: { path: '/home/me/src', type: '' } },
        { name: 'sock', hostPath: { path: '/run/x.sock', type: 'Socket' } },
        { name: 'data', persistentVolumeClaim: { claimName: 'db-data', readOnly: true } },
      ],
    });
    const out = describePod({ pod: p, original: {}, status: status({}), events: [] }, T0);
    expect(out).toContain(`\
Volumes:
  src:
    Type:          HostPath (bare host directory volume)
    Path:          /home/me/src
    HostPathType:  
  sock:
    Type:          HostPath (bare host directory volume)
    Path:          /run/x.sock
    HostPathType:  Socket
  data:
    Type:        PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)
    ClaimName:   db-data
    ReadOnly:    true
QoS Class:       BestEffort
`);
  });
});

describe('pieces of kubectl describe', () => {
  it('probes on one line, as DescribeProbe (kubectl v1.36)', () => {
    expect(
      describeProbe(probe({ exec: { command: ['cat', '/tmp/healthy'] }, initialDelaySeconds: 5, periodSeconds: 5 })),
    ).toBe('exec [cat /tmp/healthy] delay=5s timeout=1s period=5s #success=1 #failure=3');
    expect(describeProbe(probe({ httpGet: { path: '/ready', port: 'http', host: '10.0.0.1', scheme: 'HTTPS' } }))).toBe(
      'http-get https://10.0.0.1:http/ready delay=0s timeout=1s period=10s #success=1 #failure=3',
    );
    expect(describeProbe(probe({ tcpSocket: { port: 6379 }, failureThreshold: 30 }))).toBe(
      'tcp-socket :6379 delay=0s timeout=1s period=10s #success=1 #failure=30',
    );
    expect(describeProbe(probe({ grpc: { port: 9000, service: 'health' } }))).toBe(
      'grpc <pod>:9000 health delay=0s timeout=1s period=10s #success=1 #failure=3',
    );
  });

  it('times as Go RFC1123Z in the local zone', () => {
    expect(rfc1123z(Date.parse('2026-03-04T05:06:07Z'))).toBe('Wed, 04 Mar 2026 05:06:07 +0000');
    expect(rfc1123z(undefined)).toBe('Mon, 01 Jan 0001 00:00:00 +0000');
  });

  it('aligns as Go text/tabwriter: blocks of adjacent lines, a line without a tab ends them', () => {
    expect(tabwrite('a:\t1\nlonger:\t2\nbreak\nb:\t3\n')).toBe('a:       1\nlonger:  2\nbreak\nb:  3\n');
    // the last cell of a line is in no column; an empty cell is padded
    expect(tabwrite('x\ty\tz\nxx\tyyyy\n\tq\n')).toBe('x   y  z\nxx  yyyy\n    q\n');
    // a deeper column's block ends where a line has fewer cells
    expect(tabwrite('a\tb\tc\na\tbbbbbb\tc\nx\ty\na\tb\tc\n')).toBe('a  b       c\na  bbbbbb  c\nx  y\na  b  c\n');
  });
});

describe('describe: downwardAPI, projected, image and emptyDir volumes as kubectl prints them', () => {
  it('lists items, sources, the image reference and a canonical sizeLimit', () => {
    const p = pod(
      {
        volumes: [
          {
            name: 'podinfo',
            downwardAPI: {
              defaultMode: 0o644,
              items: [
                { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
                { path: 'mem', resourceFieldRef: { containerName: 'app', resource: 'limits.memory' } },
              ],
            },
          },
          {
            name: 'all',
            projected: {
              defaultMode: 0o644,
              sources: [
                { configMap: { name: 'cm' } },
                { secret: { name: 'sec', optional: true } },
                { downwardAPI: { items: [{ path: 'n', fieldRef: { fieldPath: 'metadata.name' } }] } },
              ],
            },
          },
          { name: 'fixtures', image: { reference: 'localhost/fixtures:1', pullPolicy: 'Never' } },
          { name: 'scratch', emptyDir: { sizeLimit: '1024Ki' } },
        ],
      },
      'demo',
      [object('ConfigMap', 'cm'), object('Secret', 'sec')],
    );
    const out = describePod({ pod: p, original: {}, status: status({}), events: [] }, T0);
    expect(out).toContain(`\
Volumes:
  podinfo:
    Type:  DownwardAPI (a volume populated by information about the pod)
    Items:
      metadata.labels -> labels
      limits.memory -> mem
  all:
    Type:                Projected (a volume that contains injected data from multiple sources)
    ConfigMapName:       cm
    ConfigMapOptional:   <nil>
    SecretName:          sec
    SecretOptionalName:  true
    DownwardAPI:         true
  fixtures:
    Type:        Image (a container image or OCI artifact)
    Reference:   localhost/fixtures:1
    PullPolicy:  Never
  scratch:
    Type:        EmptyDir (a temporary directory that shares a pod's lifetime)
    Medium:      
    SizeLimit:   1Mi
QoS Class:       BestEffort
Node-Selectors:  <none>
`);
  });
});
