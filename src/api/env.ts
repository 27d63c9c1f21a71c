import { NODE_NAME, type NodeAllocatable } from './node.js';
import { resourceFieldValue } from './resource-field.js';
import type { Container, Manifest, Pod } from './types.js';

/** The one node podbox schedules to. */

/**
 * A container's environment as the kubelet builds it (kubelet_pods.go makeEnvironmentVariables):
 * every envFrom source first (prefix + key), then `env` in order, each value expanded with
 * `$(VAR)` against the variables before it. Later names replace earlier ones. The image's own
 * Env is merged under these by the OCI config, as containerd does.
 */
export function containerEnv(
  c: Container,
  m: Manifest,
  ips: { podIP: string; hostIP: string },
  node: NodeAllocatable,
): string[] {
  const env = new Map<string, string>();
  for (const from of c.envFrom ?? []) {
    const data = from.configMapRef
      ? configMapData(m, from.configMapRef.name)
      : from.secretRef
        ? secretData(m, from.secretRef.name)
        : {};
    for (const [k, v] of Object.entries(data)) {
      const name = (from.prefix ?? '') + k;
      // The kubelet skips (and reports) keys that are not valid variable names.
      if (/^[\x20-\x3c\x3e-\x7e]+$/.test(name)) env.set(name, v);
    }
  }
  for (const e of c.env ?? []) {
    let value: string | undefined;
    if (e.valueFrom?.fieldRef) value = fieldValue(m.pod, e.valueFrom.fieldRef.fieldPath, ips);
    else if (e.valueFrom?.resourceFieldRef) {
      const ref = e.valueFrom.resourceFieldRef;
      value = resourceFieldValue(m.pod, { ...ref, containerName: ref.containerName || c.name }, node);
    } else if (e.valueFrom?.configMapKeyRef)
      value = configMapData(m, e.valueFrom.configMapKeyRef.name)[e.valueFrom.configMapKeyRef.key];
    else if (e.valueFrom?.secretKeyRef)
      value = secretData(m, e.valueFrom.secretKeyRef.name)[e.valueFrom.secretKeyRef.key];
    else value = expand(e.value ?? '', env);
    // An optional reference to a missing object or key leaves the variable unset.
    if (value !== undefined) env.set(e.name, value);
  }
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/** command and args with `$(VAR)` replaced from the container's env (ExpandContainerCommandAndArgs). */
export function expandCommand(c: Container, env: string[]): Container {
  const vars = new Map(env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return {
    ...c,
    command: c.command?.map((s) => expand(s, vars)),
    args: c.args?.map((s) => expand(s, vars)),
  };
}

/**
 * Kubernetes' variable expansion (third_party/forked/golang/expansion): `$(NAME)` becomes the
 * variable's value, or stays as written when NAME is not defined; `$$` is a literal `$`.
 */
export function expand(input: string, vars: Map<string, string>): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch !== '$' || i + 1 >= input.length) {
      out += ch;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      out += vars.has(name) ? vars.get(name) : `$(${name})`;
      i = close;
      continue;
    }
    out += ch;
  }
  return out;
}

/**
 * A downward-API path into the pod's metadata (name, namespace, uid, labels['k'],
 * annotations['k']; fieldpath.ExtractFieldPathAsString), or undefined for any other path.
 */
export function metadataFieldValue(pod: Pod, path: string): string | undefined {
  const meta = pod.metadata;
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (keyed) return (keyed[1] === 'labels' ? meta.labels : meta.annotations)?.[keyed[2]!] ?? '';
  switch (path) {
    case 'metadata.name':
      return meta.name;
    case 'metadata.namespace':
      return meta.namespace;
    case 'metadata.uid':
      return meta.uid ?? '';
    default:
      return undefined;
  }
}

function fieldValue(pod: Pod, path: string, ips: { podIP: string; hostIP: string }): string {
  const meta = metadataFieldValue(pod, path);
  if (meta !== undefined) return meta;
  switch (path) {
    // The node's name, as the Scheduled event and `podbox get -o wide` give it.
    case 'spec.nodeName':
      return NODE_NAME;
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? 'default';
    case 'status.hostIP':
    case 'status.hostIPs':
      return ips.hostIP;
    case 'status.podIP':
    case 'status.podIPs':
      return ips.podIP;
    default:
      return '';
  }
}

function configMapData(m: Manifest, name: string): Record<string, string> {
  const cm = m.configMaps.get(name);
  return { ...cm?.data };
}

function secretData(m: Manifest, name: string): Record<string, string> {
  const s = m.secrets.get(name);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s?.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return { ...out, ...s?.stringData };
}
