import { isIP } from 'node:net';
import * as schema from './schema.js';
import type { Container, Manifest, Pod, Secret } from './types.js';
import { MAX_DNS_NAMESERVERS, MAX_DNS_SEARCH_LIST_CHARS, MAX_DNS_SEARCH_PATHS } from '../sandbox/resolv-conf.js';

/**
 * The rules the API server checks across fields (pkg/apis/core/validation/validation.go), which a
 * schema of one field at a time cannot: unique names, references between fields, one handler or
 * source of each kind, and references to the ConfigMaps and Secrets given in the same file. Each
 * rule yields a Problem; manifest.ts turns the first into the error line.
 */

/** A problem found at a field, in the API server's terms. */
export interface Problem {
  path: string;
  message: string;
  hint?: string;
  unsupported?: boolean;
}

/** The rules validation.go checks across fields, plus references to ConfigMaps and Secrets. */
export function* crossChecks(m: Manifest): Generator<Problem> {
  const { pod } = m;
  if (!pod.metadata.name)
    yield {
      path: 'metadata.name',
      message: 'Required value: name or generateName is required',
      hint: 'set metadata.name',
    };
  if (pod.metadata.generateName !== undefined && !schema.dnsSubdomain.safeParse(pod.metadata.name).success) {
    yield {
      path: 'metadata.generateName',
      message: `Invalid value "${pod.metadata.generateName}": must make a lowercase RFC 1123 subdomain`,
      hint: 'use lowercase letters, digits and -',
    };
  }
  const volumes = new Set<string>();
  for (const [i, v] of (pod.spec.volumes ?? []).entries()) {
    const path = `spec.volumes[${i}]`;
    if (volumes.has(v.name))
      yield { path: `${path}.name`, message: `Duplicate value: "${v.name}"`, hint: 'give each volume its own name' };
    volumes.add(v.name);
    const sources = (['emptyDir', 'configMap', 'secret'] as const).filter((k) => v[k] !== undefined);
    if (sources.length !== 1) {
      yield {
        path,
        message: sources.length
          ? `may not specify more than 1 volume type (${sources.join(', ')})`
          : 'must specify a volume type',
        hint: 'give exactly one of emptyDir, configMap, secret',
      };
    }
    if (v.configMap)
      yield* keyRefs(
        m,
        `${path}.configMap`,
        'configmap',
        v.configMap.name,
        v.configMap.optional,
        v.configMap.items?.map((it) => it.key),
      );
    if (v.secret)
      yield* keyRefs(
        m,
        `${path}.secret`,
        'secret',
        v.secret.secretName,
        v.secret.optional,
        v.secret.items?.map((it) => it.key),
      );
  }

  yield* dnsChecks(pod);

  const names = new Set<string>();
  const groups: [string, Container[]][] = [
    ['spec.initContainers', pod.spec.initContainers ?? []],
    ['spec.containers', pod.spec.containers],
  ];
  for (const [group, list] of groups) {
    for (const [i, c] of list.entries()) {
      const path = `${group}[${i}]`;
      if (names.has(c.name))
        yield {
          path: `${path}.name`,
          message: `Duplicate value: "${c.name}"`,
          hint: 'give each container, init containers included, its own name',
        };
      names.add(c.name);
      if (c.restartPolicy && group === 'spec.containers') {
        yield {
          path: `${path}.restartPolicy`,
          message: 'Forbidden: may not be set for non-init containers',
          hint: "remove it; the pod's spec.restartPolicy applies",
        };
      }
      yield* containerChecks(m, group, path, c, volumes);
    }
  }
}

/** The rules of one container (validation.go validateContainers): its mounts, ports, env, probes and hooks. */
function* containerChecks(
  m: Manifest,
  group: string,
  path: string,
  c: Container,
  volumes: Set<string>,
): Generator<Problem> {
  yield* mountChecks(path, c, volumes);
  yield* portChecks(path, c, m.pod.spec.hostNetwork ?? false);
  yield* envChecks(m, path, c);
  yield* handlerChecks(group, path, c);
  yield* procMountChecks(path, c, m.pod);
}

/**
 * procMount Unmasked only in a pod of its own user namespace (validation.go validateProcMountType
 * with hostUsers). podbox pods always have one; the field says so as on a cluster.
 */
function* procMountChecks(path: string, c: Container, pod: Pod): Generator<Problem> {
  if (c.securityContext?.procMount === 'Unmasked' && pod.spec.hostUsers !== false)
    yield {
      path: `${path}.securityContext.procMount`,
      message: 'Invalid value: "Unmasked": `hostUsers` must be false to use `Unmasked`',
      hint: 'set spec.hostUsers: false',
    };
}

/** volumeMounts: a volume of the pod, each path once, a subPath inside its volume (validateVolumeMounts). */
function* mountChecks(path: string, c: Container, volumes: Set<string>): Generator<Problem> {
  const mountPaths = new Set<string>();
  for (const [j, vm] of (c.volumeMounts ?? []).entries()) {
    const p = `${path}.volumeMounts[${j}]`;
    if (!volumes.has(vm.name))
      yield {
        path: `${p}.name`,
        message: `Not found: "${vm.name}"`,
        hint: 'add a volume of that name to spec.volumes',
      };
    if (mountPaths.has(vm.mountPath))
      yield {
        path: `${p}.mountPath`,
        message: `Invalid value "${vm.mountPath}": must be unique`,
        hint: 'mount each path once',
      };
    mountPaths.add(vm.mountPath);
    if (vm.subPath !== undefined && (vm.subPath.startsWith('/') || vm.subPath.split('/').includes('..'))) {
      yield {
        path: `${p}.subPath`,
        message: `Invalid value "${vm.subPath}": must be a relative path without '..'`,
        hint: 'name a path inside the volume',
      };
    }
  }
}

/**
 * Port names unique in the container (validateContainerPorts); under hostNetwork a hostPort is the
 * containerPort (validateHostNetwork).
 */
function* portChecks(path: string, c: Container, hostNetwork: boolean): Generator<Problem> {
  const ports = new Set<string>();
  for (const [j, port] of (c.ports ?? []).entries()) {
    if (hostNetwork && port.hostPort !== undefined && port.hostPort !== port.containerPort)
      yield {
        path: `${path}.ports[${j}].hostPort`,
        message: `Invalid value: ${port.hostPort}: must match \`containerPort\` when \`hostNetwork\` is true`,
        hint: 'leave hostPort out, or set it to the containerPort',
      };
    if (port.name && ports.has(port.name))
      yield {
        path: `${path}.ports[${j}].name`,
        message: `Duplicate value: "${port.name}"`,
        hint: 'give each port its own name',
      };
    if (port.name) ports.add(port.name);
  }
}

/** env and envFrom: one source each, fieldRef paths the downward API knows, references that resolve (validateEnv). */
function* envChecks(m: Manifest, path: string, c: Container): Generator<Problem> {
  for (const [j, e] of (c.env ?? []).entries()) {
    const p = `${path}.env[${j}]`;
    const from = e.valueFrom;
    if (from && e.value !== undefined)
      yield {
        path: `${p}.valueFrom`,
        message: 'Invalid value: may not be specified when `value` is not empty',
        hint: 'give value or valueFrom',
      };
    if (from) {
      const n = [from.fieldRef, from.configMapKeyRef, from.secretKeyRef].filter(Boolean).length;
      if (n !== 1)
        yield {
          path: `${p}.valueFrom`,
          message: 'Invalid value: must specify one of: `fieldRef`, `configMapKeyRef` or `secretKeyRef`',
          hint: 'give exactly one source',
        };
      if (from.fieldRef && !FIELD_PATH.test(from.fieldRef.fieldPath)) {
        yield {
          path: `${p}.valueFrom.fieldRef.fieldPath`,
          message: `Unsupported value: "${from.fieldRef.fieldPath}"`,
          hint: "use metadata.name, metadata.namespace, metadata.uid, metadata.labels['KEY'], metadata.annotations['KEY'], spec.nodeName, spec.serviceAccountName, status.hostIP, status.hostIPs, status.podIP or status.podIPs",
        };
      }
      if (from.configMapKeyRef)
        yield* keyRefs(
          m,
          `${p}.valueFrom.configMapKeyRef`,
          'configmap',
          from.configMapKeyRef.name,
          from.configMapKeyRef.optional,
          [from.configMapKeyRef.key],
        );
      if (from.secretKeyRef)
        yield* keyRefs(m, `${p}.valueFrom.secretKeyRef`, 'secret', from.secretKeyRef.name, from.secretKeyRef.optional, [
          from.secretKeyRef.key,
        ]);
    }
  }
  for (const [j, e] of (c.envFrom ?? []).entries()) {
    const p = `${path}.envFrom[${j}]`;
    if (!!e.configMapRef === !!e.secretRef)
      yield {
        path: p,
        message: 'Invalid value: must specify one of: `configMapRef` or `secretRef`',
        hint: 'give exactly one source',
      };
    if (e.configMapRef)
      yield* keyRefs(m, `${p}.configMapRef`, 'configmap', e.configMapRef.name, e.configMapRef.optional);
    if (e.secretRef) yield* keyRefs(m, `${p}.secretRef`, 'secret', e.secretRef.name, e.secretRef.optional);
  }
}

/** Probes and lifecycle hooks: one handler each, and only where Kubernetes allows them (validateProbe, validateLifecycle). */
function* handlerChecks(group: string, path: string, c: Container): Generator<Problem> {
  for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
    const probe = c[kind];
    if (!probe) continue;
    const handlers = (['exec', 'httpGet', 'tcpSocket', 'grpc'] as const).filter((k) => probe[k]);
    if (handlers.length !== 1)
      yield {
        path: `${path}.${kind}`,
        message: handlers.length ? 'may not specify more than 1 handler type' : 'must specify a handler type',
        hint: 'give exactly one of exec, httpGet, tcpSocket, grpc',
      };
    if (kind !== 'readinessProbe' && probe.successThreshold !== 1)
      yield {
        path: `${path}.${kind}.successThreshold`,
        message: 'Invalid value: must be 1',
        hint: 'only readiness probes may need more than one success',
      };
    if (group === 'spec.initContainers' && !c.restartPolicy)
      yield {
        path: `${path}.${kind}`,
        message: 'Forbidden: may not be set for init containers without restartPolicy=Always',
        hint: 'remove it',
      };
  }
  if (c.lifecycle && group === 'spec.initContainers' && !c.restartPolicy) {
    yield {
      path: `${path}.lifecycle`,
      message: 'Forbidden: may not be set for init containers without restartPolicy=Always',
      hint: 'remove it, or make the container a sidecar',
    };
  }
  for (const hook of ['postStart', 'preStop'] as const) {
    const h = c.lifecycle?.[hook];
    if (!h) continue;
    const handlers = (['exec', 'httpGet', 'tcpSocket', 'sleep'] as const).filter((k) => h[k]);
    if (handlers.length !== 1)
      yield {
        path: `${path}.lifecycle.${hook}`,
        message: handlers.length ? 'may not specify more than 1 handler type' : 'must specify a handler type',
        hint: 'give exactly one of exec, httpGet, sleep',
      };
    if (h.tcpSocket)
      yield {
        path: `${path}.lifecycle.${hook}.tcpSocket`,
        message: 'tcpSocket hooks are deprecated and not supported',
        hint: 'use exec or httpGet',
        unsupported: true,
      };
  }
}

/** fieldRef paths the downward API supports for env (validation.validEnvDownwardAPIFieldPathExpressions). */
const FIELD_PATH =
  /^(metadata\.(name|namespace|uid)|metadata\.(labels|annotations)\['[^']+'\]|spec\.(nodeName|serviceAccountName)|status\.(hostIP|hostIPs|podIP|podIPs))$/;

function* keyRefs(
  m: Manifest,
  path: string,
  kind: 'configmap' | 'secret',
  name: string,
  optional: boolean | undefined,
  keys?: string[],
): Generator<Problem> {
  if (optional) return;
  const obj = kind === 'configmap' ? m.configMaps.get(name) : m.secrets.get(name);
  if (!obj) {
    yield {
      path,
      message: `${kind} "${name}" not found`,
      hint: `put a v1 ${kind === 'configmap' ? 'ConfigMap' : 'Secret'} named ${name} in the same file (separated by ---), or mark the reference optional`,
    };
    return;
  }
  const present = new Set([
    ...Object.keys(obj.data ?? {}),
    ...Object.keys(('binaryData' in obj ? obj.binaryData : (obj as Secret).stringData) ?? {}),
  ]);
  for (const k of keys ?? []) {
    if (!present.has(k))
      yield {
        path,
        message: `key "${k}" not found in ${kind} "${name}"`,
        hint: `add ${k} to the ${kind}'s data, or mark the reference optional`,
      };
  }
}

/** A list value as the API server prints it in an Invalid error (Go's %#v of a []string). */
function goStrings(list: string[]): string {
  return `[]string{${list.map((s) => JSON.stringify(s)).join(', ')}}`;
}

/** spec.dnsConfig against spec.dnsPolicy (validation.go validatePodDNSConfig), in its order and words. */
function* dnsChecks(pod: Pod): Generator<Problem> {
  const path = 'spec.dnsConfig';
  const c = pod.spec.dnsConfig;
  if (pod.spec.dnsPolicy === 'None') {
    if (!c) {
      yield {
        path,
        message: 'Required value: must provide `dnsConfig` when `dnsPolicy` is None',
        hint: 'give spec.dnsConfig.nameservers, or another dnsPolicy',
      };
      return;
    }
    if (!c.nameservers?.length) {
      yield {
        path: `${path}.nameservers`,
        message: 'Required value: must provide at least one DNS nameserver when `dnsPolicy` is None',
        hint: 'give the address of a DNS server in spec.dnsConfig.nameservers',
      };
      return;
    }
  }
  if (!c) return;
  const nameservers = c.nameservers ?? [];
  if (nameservers.length > MAX_DNS_NAMESERVERS) {
    yield {
      path: `${path}.nameservers`,
      message: `Invalid value ${goStrings(nameservers)}: must not have more than ${MAX_DNS_NAMESERVERS} nameservers`,
      hint: `keep at most ${MAX_DNS_NAMESERVERS}: the resolver uses no more`,
    };
  }
  for (const [i, ns] of nameservers.entries()) {
    if (!isIP(ns))
      yield {
        path: `${path}.nameservers[${i}]`,
        message: `Invalid value "${ns}": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`,
        hint: 'give an IP address, not a name',
      };
  }
  const searches = c.searches ?? [];
  if (searches.length > MAX_DNS_SEARCH_PATHS) {
    yield {
      path: `${path}.searches`,
      message: `Invalid value ${goStrings(searches)}: must not have more than ${MAX_DNS_SEARCH_PATHS} search paths`,
      hint: `keep at most ${MAX_DNS_SEARCH_PATHS} search domains`,
    };
  }
  if (searches.join(' ').length > MAX_DNS_SEARCH_LIST_CHARS) {
    yield {
      path: `${path}.searches`,
      message:
        `Invalid value ${goStrings(searches)}: must not have more than ${MAX_DNS_SEARCH_LIST_CHARS} ` +
        'characters (including spaces) in the search list',
      hint: 'use fewer or shorter search domains',
    };
  }
  for (const [i, search] of searches.entries()) {
    // A trailing dot is allowed.
    const r = schema.dnsSubdomain.safeParse(search.replace(/\.$/, ''));
    if (!r.success)
      yield {
        path: `${path}.searches[${i}]`,
        message: `Invalid value "${search}": ${r.error.issues[0]!.message}`,
        hint: 'give a domain name',
      };
  }
  for (const [i, option] of (c.options ?? []).entries()) {
    if (!option.name)
      yield {
        path: `${path}.options[${i}]`,
        message: 'Required value: must not be empty',
        hint: 'give each option a name, as in `name: ndots`',
      };
  }
}
