import { describe, expect, it } from 'vitest';
import {
  decodeDaemonSet,
  decodeDeployment,
  decodeReplicaSet,
  decodeStatefulSet,
} from '../../src/workload/apps-schema.js';
import { decodeService } from '../../src/workload/service.js';
import { checkTemplate } from '../../src/workload/owned-pod.js';
import { PodboxError } from '../../src/errors.js';
import { appsController, decodeAppsObject, isAppsKind, ownsPod } from '../../src/workload/apps-kinds.js';
import { appsObject, counting } from '../helpers/workloads.js';

function errorOf(f: () => unknown): { message: string; hint?: string } {
  try {
    f();
  } catch (e) {
    if (e instanceof PodboxError) return { message: e.message, hint: e.hint };
    throw e;
  }
  throw new Error('accepted');
}

describe('apps/v1 schemas (pkg/apis/apps/v1/defaults.go, apps/validation/validation.go)', () => {
  it('a Deployment gets the API server defaults', () => {
    const d = decodeDeployment(appsObject('Deployment', 'web'), 'web.yaml');
    expect(d.metadata).toMatchObject({ name: 'web', namespace: 'default', uid: 'uid-web' });
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.revisionHistoryLimit).toBe(10);
    expect(d.spec.progressDeadlineSeconds).toBe(600);
    expect(d.spec.minReadySeconds).toBe(0);
    expect(d.spec.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
    });
    expect(d.spec.template.spec.restartPolicy).toBe('Always');
    expect(d.spec.template.spec.terminationGracePeriodSeconds).toBe(30);
    const recreate = decodeDeployment(appsObject('Deployment', 'web', { strategy: { type: 'Recreate' } }), 'f');
    expect(recreate.spec.strategy).toEqual({ type: 'Recreate' });
  });

  it('a StatefulSet and a DaemonSet get theirs', () => {
    const s = decodeStatefulSet(appsObject('StatefulSet', 'db', { serviceName: 'db' }), 'f');
    expect(s.spec.podManagementPolicy).toBe('OrderedReady');
    expect(s.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
    expect(s.spec.revisionHistoryLimit).toBe(10);
    expect(s.spec.serviceName).toBe('db');
    const ds = decodeDaemonSet(appsObject('DaemonSet', 'agent'), 'f');
    expect(ds.spec.updateStrategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 1, maxSurge: 0 },
    });
    expect(decodeReplicaSet(appsObject('ReplicaSet', 'front'), 'f').spec.replicas).toBe(1);
  });

  it('a selector that does not match the template labels is refused in the API server words', () => {
    const o = appsObject('Deployment', 'web', { selector: { matchLabels: { app: 'other' } } });
    expect(errorOf(() => decodeDeployment(o, 'web.yaml'))).toEqual({
      message:
        'web.yaml: deployment "web" is invalid: spec.template.metadata.labels: Invalid value: ' +
        'map[string]string{"app":"web"}: `selector` does not match template `labels`',
      hint: 'give spec.template.metadata.labels every label spec.selector.matchLabels asks for',
    });
  });

  it('a missing or empty selector is refused (apps/v1 has no default selector)', () => {
    const o = appsObject('StatefulSet', 'db');
    delete (o.spec as Record<string, unknown>).selector;
    expect(errorOf(() => decodeStatefulSet(o, 'db.yaml'))).toEqual({
      message: 'db.yaml: statefulset "db" is invalid: spec.selector: Required value',
      hint: 'set selector',
    });
    const empty = appsObject('ReplicaSet', 'front', { selector: {} });
    expect(errorOf(() => decodeReplicaSet(empty, 'rs.yaml')).message).toBe(
      'rs.yaml: replicaset "front" is invalid: spec.selector: Invalid value: {}: ' +
        'empty selector is invalid for replicaset',
    );
  });

  it('an unknown field is named, with the kind to explain', () => {
    const o = appsObject('Deployment', 'web', { replica: 3 });
    expect(errorOf(() => decodeDeployment(o, 'web.yaml'))).toEqual({
      message: 'web.yaml: deployment "web" is invalid: spec.replica: unknown field',
      hint: 'remove it or fix its spelling (`kubectl explain deployment.spec` lists the fields)',
    });
  });

  it('the template is a pod template: restartPolicy Always, no activeDeadlineSeconds, pod field errors', () => {
    const never = appsObject('Deployment', 'web');
    (never.spec as { template: { spec: Record<string, unknown> } }).template.spec.restartPolicy = 'Never';
    expect(errorOf(() => decodeDeployment(never, 'web.yaml')).message).toBe(
      'web.yaml: deployment "web" is invalid: spec.template.spec.restartPolicy: Unsupported value "Never": ' +
        'supported values: "Always"',
    );
    const deadline = appsObject('DaemonSet', 'agent');
    (deadline.spec as { template: { spec: Record<string, unknown> } }).template.spec.activeDeadlineSeconds = 5;
    expect(errorOf(() => decodeDaemonSet(deadline, 'ds.yaml')).message).toBe(
      'ds.yaml: daemonset "agent" is invalid: spec.template.spec.activeDeadlineSeconds: Forbidden: ' +
        'activeDeadlineSeconds in DaemonSet is not Supported',
    );
    const typo = appsObject('StatefulSet', 'db');
    (
      typo.spec as { template: { spec: { containers: Record<string, unknown>[] } } }
    ).template.spec.containers[0]!.imagee = 'x';
    expect(errorOf(() => decodeStatefulSet(typo, 'db.yaml')).message).toBe(
      'db.yaml: statefulset "db" is invalid: spec.template.spec.containers[0].imagee: unknown field',
    );
  });

  it('rolling update bounds are checked as ValidateRollingUpdateDeployment does', () => {
    const both0 = appsObject('Deployment', 'web', {
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } },
    });
    expect(errorOf(() => decodeDeployment(both0, 'web.yaml')).message).toBe(
      'web.yaml: deployment "web" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: ' +
        'may not be 0 when `maxSurge` is 0',
    );
    const recreate = appsObject('Deployment', 'web', { strategy: { type: 'Recreate', rollingUpdate: {} } });
    expect(errorOf(() => decodeDeployment(recreate, 'web.yaml')).message).toBe(
      'web.yaml: deployment "web" is invalid: spec.strategy.rollingUpdate: Forbidden: ' +
        "may not be specified when strategy `type` is 'Recreate'",
    );
    const over = appsObject('Deployment', 'web', { strategy: { rollingUpdate: { maxUnavailable: '150%' } } });
    expect(errorOf(() => decodeDeployment(over, 'web.yaml')).message).toBe(
      'web.yaml: deployment "web" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": ' +
        'must not be greater than 100%',
    );
  });

  it('the kind and apiVersion are the ones asked for', () => {
    const o = { ...appsObject('Deployment', 'web'), apiVersion: 'extensions/v1beta1' };
    expect(errorOf(() => decodeDeployment(o, 'web.yaml')).message).toBe(
      'web.yaml: deployment "web" is invalid: apiVersion: ' +
        'Unsupported value "extensions/v1beta1": supported values: "apps/v1"',
    );
  });
});

describe('a template against the rest of its file (ValidatePodTemplateSpec)', () => {
  it('a reference to a ConfigMap the file lacks is refused under spec.template', () => {
    const o = appsObject('Deployment', 'web');
    const spec = (o.spec as { template: { spec: Record<string, unknown> } }).template.spec;
    spec.volumes = [{ name: 'conf', configMap: { name: 'settings' } }];
    const d = decodeDeployment(o, 'web.yaml');
    const refs = { configMaps: new Map(), secrets: new Map(), claims: new Map() };
    expect(errorOf(() => checkTemplate(d.spec.template, refs, 'web.yaml', 'deployment "web"'))).toEqual({
      message:
        'web.yaml: deployment "web" is invalid: spec.template.spec.volumes[0].configMap: ' +
        'configmap "settings" not found',
      hint: 'put a v1 ConfigMap named settings in the same file (separated by ---), or mark the reference optional',
    });
    const settings = { apiVersion: 'v1' as const, kind: 'ConfigMap' as const, metadata: { name: 'settings' } };
    const withIt = { ...refs, configMaps: new Map([['settings', settings]]) };
    expect(() => checkTemplate(d.spec.template, withIt, 'web.yaml', 'deployment "web"')).not.toThrow();
  });
});

describe('v1 Service schema (core/validation ValidateService)', () => {
  const svc = (spec: Record<string, unknown>) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web' },
    spec,
  });

  it('defaults: ClusterIP, targetPort = port, TCP, externalTrafficPolicy Cluster for a NodePort', () => {
    const s = decodeService(svc({ selector: { app: 'web' }, ports: [{ port: 80 }] }), 'f');
    expect(s.spec.type).toBe('ClusterIP');
    expect(s.spec.ports).toEqual([{ port: 80, targetPort: 80, protocol: 'TCP' }]);
    expect(s.spec.externalTrafficPolicy).toBeUndefined();
    const n = decodeService(svc({ type: 'NodePort', ports: [{ port: 80, targetPort: 'http', nodePort: 30080 }] }), 'f');
    expect(n.spec.externalTrafficPolicy).toBe('Cluster');
    expect(n.spec.ports[0]).toEqual({ port: 80, targetPort: 'http', nodePort: 30080, protocol: 'TCP' });
  });

  it('refuses what the API server refuses, and ExternalName by name', () => {
    expect(
      errorOf(() => decodeService(svc({ type: 'NodePort', ports: [{ port: 80, nodePort: 8080 }] }), 's.yaml')).message,
    ).toBe(
      's.yaml: service "web" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the ' +
        'valid range. The range of valid ports is 30000-32767',
    );
    expect(errorOf(() => decodeService(svc({ ports: [{ port: 80, nodePort: 30080 }] }), 's.yaml')).message).toBe(
      's.yaml: service "web" is invalid: spec.ports[0].nodePort: ' +
        "Forbidden: may not be used when `type` is 'ClusterIP'",
    );
    expect(errorOf(() => decodeService(svc({ ports: [{ port: 80 }, { port: 81 }] }), 's.yaml')).message).toBe(
      's.yaml: service "web" is invalid: spec.ports[0].name: Required value (and 1 more problem)',
    );
    expect(errorOf(() => decodeService(svc({ selector: { app: 'web' } }), 's.yaml')).message).toBe(
      's.yaml: service "web" is invalid: spec.ports: Required value',
    );
    expect(
      errorOf(() => decodeService(svc({ type: 'ExternalName', externalName: 'db.example.com' }), 's.yaml')).message,
    ).toBe(
      's.yaml: service "web": spec.type: type ExternalName is not supported: podbox has no cluster DNS to answer ' +
        'for it; give the pods the name directly (hostAliases or env)',
    );
    // A headless Service needs no ports.
    expect(decodeService(svc({ clusterIP: 'None', selector: { app: 'db' } }), 'f').spec.ports).toEqual([]);
  });
});

describe('the apps/v1 kinds for the host (apps-kinds.ts)', () => {
  it('decodes by kind, makes the controller, and tells its pods by their controller reference', () => {
    expect(isAppsKind('apps/v1', 'StatefulSet')).toBe(true);
    expect(isAppsKind('extensions/v1beta1', 'Deployment')).toBe(false);
    const d = decodeAppsObject(appsObject('Deployment', 'web'), 'f');
    const c = appsController(d, { random: counting() });
    expect([c.kind, c.name]).toEqual(['Deployment', 'web']);
    const created = c.reconcile([], 0).actions.map((a) => ('create' in a ? a.create : undefined))[0]!;
    expect(ownsPod(d, created.metadata)).toBe(true);
    expect(ownsPod(decodeAppsObject(appsObject('Deployment', 'web2'), 'f'), created.metadata)).toBe(false);
    const s = decodeAppsObject(appsObject('StatefulSet', 'db'), 'f');
    const pod = appsController(s)
      .reconcile([], 0)
      .actions.map((a) => ('create' in a ? a.create : undefined))[0]!;
    expect(ownsPod(s, pod.metadata)).toBe(true);
    expect(ownsPod(s, { ...pod.metadata, labels: { app: 'other' } })).toBe(false);
    expect(ownsPod(s, { labels: { app: 'db' } })).toBe(false);
  });
});
