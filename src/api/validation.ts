import { isIP } from 'node:net';
import * as schema from './schema.js';
import type { Container, Manifest, Pod, Secret, Volume } from './types.js';
import type { DownwardAPIItem } from '../volume/downward-api.js';
import { allContainers } from './containers.js';
import { allowedDivisors, RESOURCE_FIELDS } from './resource-field.js';
import { canonicalQuantity } from './quantity.js';
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
    const sources = VOLUME_TYPES.filter((k) => v[k] !== undefined);
    if (sources.length !== 1) {
      yield {
        path,
        message: sources.length
          ? `may not specify more than 1 volume type (${sources.join(', ')})`
          : 'must specify a volume type',
        hint: `give exactly one of ${VOLUME_TYPES.join(', ')}`,
      };
    }
    if (v.hostPath) yield* hostPathChecks(`${path}.hostPath`, v.hostPath.path);
    if (v.persistentVolumeClaim) yield* claimChecks(`${path}.persistentVolumeClaim`, v.persistentVolumeClaim.claimName);
    if (v.downwardAPI) yield* downwardAPIChecks(m, `${path}.downwardAPI.items`, v.downwardAPI.items ?? []);
    if (v.projected) yield* projectedChecks(m, `${path}.projected`, v.projected);
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

/**
 * validation.go validateHostPathVolumeSource: a path, with no '..' element (validatePathNoBacksteps).
 * The API server takes a relative path (the kubelet then resolves it against its own working
 * directory); podbox refuses it, since it would depend on where its supervisor was started.
 */
function* hostPathChecks(path: string, hostPath: string): Generator<Problem> {
  if (hostPath === '') {
    yield {
      path: `${path}.path`,
      message: 'Required value',
      hint: 'give the absolute path of a host directory or file',
    };
    return;
  }
  if (hostPath.split('/').includes('..'))
    yield {
      path: `${path}.path`,
      message: `Invalid value "${hostPath}": must not contain '..'`,
      hint: 'give the path without .. elements',
    };
  else if (!hostPath.startsWith('/'))
    yield {
      path: `${path}.path`,
      message: `Invalid value "${hostPath}": must be an absolute path`,
      hint: 'give the absolute path, as $(pwd)/... or /home/...',
    };
}

/**
 * validatePersistentClaimVolumeSource: a claimName. It names a podbox volume (volume/claim.ts), so it
 * must also be a valid claim name (ValidatePersistentVolumeClaimName: a DNS subdomain).
 */
function* claimChecks(path: string, claimName: string): Generator<Problem> {
  if (claimName === '') {
    yield { path: `${path}.claimName`, message: 'Required value', hint: 'name the claim (a podbox volume)' };
    return;
  }
  const r = schema.dnsSubdomain.safeParse(claimName);
  if (!r.success)
    yield {
      path: `${path}.claimName`,
      message: `Invalid value "${claimName}": ${r.error.issues[0]!.message}`,
      hint: 'name the claim with lowercase letters, digits, - and .',
    };
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

const VOLUME_TYPES = [
  'emptyDir',
  'hostPath',
  'persistentVolumeClaim',
  'configMap',
  'secret',
  'downwardAPI',
  'projected',
  'image',
] as const;

/** fieldRef paths a downward API volume may name (validation.go validVolumeDownwardAPIFieldPathExpressions). */
const VOLUME_FIELD_PATHS = [
  'metadata.annotations',
  'metadata.labels',
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
];

/** A path below a volume that is not the atomic writer's (validation.go ValidateLocalNonReservedPath). */
function* localNonReservedPath(path: string, p: string): Generator<Problem> {
  if (p.startsWith('/'))
    yield { path, message: `Invalid value: "${p}": must be a relative path`, hint: 'name a path inside the volume' };
  if (p.split('/').includes('..'))
    yield { path, message: `Invalid value: "${p}": must not contain '..'`, hint: 'name a path inside the volume' };
  else if (p.startsWith('..'))
    yield {
      path,
      message: `Invalid value: "${p}": must not start with '..'`,
      hint: "names starting with '..' are the volume's own (..data)",
    };
}

/** `"a", "b"`: a list as the API server's NotSupported error gives it. */
const quotedList = (list: readonly string[]) => list.map((x) => `"${x}"`).join(', ');

/** Each downward API file (validation.go validateDownwardAPIVolumeFile), in its order and words. */
function* downwardAPIChecks(m: Manifest, path: string, items: DownwardAPIItem[]): Generator<Problem> {
  for (const [i, item] of items.entries()) {
    const p = `${path}[${i}]`;
    yield* localNonReservedPath(`${p}.path`, item.path);
    if (item.fieldRef) {
      const fp = item.fieldRef.fieldPath;
      const keyed = /^(metadata\.(?:labels|annotations))\['[^']+'\]$/.exec(fp);
      if (!VOLUME_FIELD_PATHS.includes(keyed ? keyed[1]! : fp))
        yield {
          path: `${p}.fieldRef.fieldPath`,
          message: `Unsupported value: "${fp}": supported values: ${quotedList(VOLUME_FIELD_PATHS)}`,
          hint:
            "a volume gives the pod's metadata only; " +
            'use an env fieldRef for spec.nodeName, status.podIP and the like',
        };
      if (item.resourceFieldRef)
        yield {
          path: `${p}`,
          message: 'Invalid value: "resource": fieldRef and resourceFieldRef can not be specified simultaneously',
          hint: 'give one of them',
        };
    } else if (item.resourceFieldRef) {
      yield* resourceFieldChecks(m, `${p}.resourceFieldRef`, item.resourceFieldRef);
    } else {
      yield {
        path: p,
        message: 'Required value: one of fieldRef and resourceFieldRef is required',
        hint: 'give fieldRef.fieldPath or resourceFieldRef.resource',
      };
    }
  }
}

/**
 * validation.go validateContainerResourceFieldSelector (in a volume: containerName required) and
 * validateContainerResourceDivisor.
 */
function* resourceFieldChecks(
  m: Manifest,
  path: string,
  ref: { containerName?: string; resource: string; divisor?: string },
  volume = true,
): Generator<Problem> {
  if (volume && !ref.containerName) {
    yield {
      path: `${path}.containerName`,
      message: 'Required value',
      hint: 'name the container whose resource the file gives',
    };
  } else if (!RESOURCE_FIELDS.includes(ref.resource as (typeof RESOURCE_FIELDS)[number])) {
    yield {
      path: `${path}.resource`,
      message: `Unsupported value: "${ref.resource}": supported values: ${quotedList(RESOURCE_FIELDS)}`,
      hint: 'name a cpu, memory or ephemeral-storage limit or request',
    };
    return;
  } else if (ref.containerName && !allContainers(m.pod).some((c) => c.name === ref.containerName)) {
    // The API server accepts it; the kubelet then fails the volume. Said before anything runs.
    yield {
      path: `${path}.containerName`,
      message: `Not found: "${ref.containerName}"`,
      hint: 'name a container of this pod',
    };
  }
  if (ref.divisor === undefined || !RESOURCE_FIELDS.includes(ref.resource as (typeof RESOURCE_FIELDS)[number])) return;
  const allowed = allowedDivisors(ref.resource);
  if (!allowed.includes(canonicalQuantity(ref.divisor))) {
    const what = ref.resource.endsWith('.cpu')
      ? 'cpu resource'
      : ref.resource.endsWith('.memory')
        ? 'memory resource'
        : 'local ephemeral storage resource';
    yield {
      path: `${path}.divisor`,
      // validateContainerResourceDivisor's words: the cpu list is "1m and 1", the others comma-separated.
      message:
        `Invalid value: "${ref.resource}": only divisor's values ` +
        `${what === 'cpu resource' ? '1m and 1' : allowed.join(', ')} are supported with the ${what}`,
      hint: `use one of ${allowed.join(', ')}`,
    };
  }
}

/** validation.go validateProjectionSources: one type per source, referenced objects, no path twice. */
function* projectedChecks(m: Manifest, path: string, projected: NonNullable<Volume['projected']>): Generator<Problem> {
  const paths = new Set<string>();
  const duplicate = (p: string, value: string): Problem | undefined => {
    if (!paths.has(p)) {
      paths.add(p);
      return undefined;
    }
    return { path, message: `Invalid value: "${value}": conflicting duplicate paths`, hint: `give "${p}" once` };
  };
  for (const [i, src] of (projected.sources ?? []).entries()) {
    const p = `${path}.sources[${i}]`;
    const kinds = (['secret', 'configMap', 'downwardAPI'] as const).filter((k) => src[k] !== undefined);
    if (kinds.length > 1)
      yield {
        path: p,
        message: 'Forbidden: may not specify more than 1 volume type per source',
        hint: 'give one of configMap, secret, downwardAPI per source',
      };
    if (src.secret) {
      yield* keyRefs(
        m,
        `${p}.secret`,
        'secret',
        src.secret.name,
        src.secret.optional,
        src.secret.items?.map((it) => it.key),
      );
      for (const it of src.secret.items ?? []) {
        const d = duplicate(it.path, src.secret.name);
        if (d) yield d;
      }
    }
    if (src.configMap) {
      yield* keyRefs(
        m,
        `${p}.configMap`,
        'configmap',
        src.configMap.name,
        src.configMap.optional,
        src.configMap.items?.map((it) => it.key),
      );
      for (const it of src.configMap.items ?? []) {
        const d = duplicate(it.path, src.configMap.name);
        if (d) yield d;
      }
    }
    if (src.downwardAPI) {
      yield* downwardAPIChecks(m, `${p}.downwardAPI.items`, src.downwardAPI.items ?? []);
      for (const it of src.downwardAPI.items ?? []) {
        const d = duplicate(it.path, it.path);
        if (d) yield d;
      }
    }
  }
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
      const n = [from.fieldRef, from.resourceFieldRef, from.configMapKeyRef, from.secretKeyRef].filter(Boolean).length;
      if (n !== 1)
        yield {
          path: `${p}.valueFrom`,
          message:
            'Invalid value: must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`',
          hint: 'give exactly one source',
        };
      // containerName may be left out in env: the container itself (kubelet_pods.go containerResourceRuntimeValue).
      if (from.resourceFieldRef)
        yield* resourceFieldChecks(m, `${p}.valueFrom.resourceFieldRef`, from.resourceFieldRef, false);
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
