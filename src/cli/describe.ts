import { metadataFieldValue } from '../api/env.js';
import type { Command } from 'commander';
import { PodDir } from '../pod/dir.js';
import type { Container, Pod, Probe, Volume } from '../api/types.js';
import { canonicalQuantity } from '../api/quantity.js';
import type { ContainerState, ContainerStatus, PodEvent, PodStatus } from '../api/status.js';
import { superviseOrphans } from '../lifecycle/supervisor-client.js';
import { view, collectGarbage, statusOf, type PodView } from '../pod/view.js';
import { NODE_NAME } from '../api/node.js';
import { humanDuration } from '../kubectl/duration.js';
import { tabwrite } from '../kubectl/table.js';
import { rfc1123z } from '../kubectl/time.js';
import { logLinesLostOf } from '../lifecycle/pod-machine.js';
import { publishedText, type PodNetwork } from '../sandbox/network.js';
import type { PodLimits } from '../cgroup/pod-limits.js';

/**
 * `podbox describe POD`: the pod, its containers and its events, laid out as `kubectl describe pod`
 * lays them out. The rules below follow kubectl v1.36's k8s.io/kubectl/pkg/describe/describe.go
 * (describePod, describeContainers, describeContainerBasicInfo, describeStatus, DescribeProbe,
 * describeVolumes, DescribeEvents, printLabelsMultiline, printAnnotationsMultiline) and its
 * tabbedString, which aligns the text with Go's text/tabwriter (see `tabwrite` below).
 */
export function registerDescribe(program: Command): void {
  program
    .command('describe')
    .description('show a pod, its containers and its events, as kubectl describe pod does')
    .argument('<pod>')
    .action(async (name: string) => {
      await superviseOrphans(await collectGarbage());
      process.stdout.write(describePod(describeInput(view(PodDir.open(name))), Date.now()));
    });
}

/** Everything `describePod` shows, read from the pod's files; describePod itself is pure. */
export interface DescribeInput {
  pod: Pod;
  /** the Pod object as given, for fields podbox accepts without acting on them (priority...) */
  original: unknown;
  status: PodStatus;
  events: PodEvent[];
  /** `podbox delete` asked for the pod to go and it has not gone yet */
  deletion?: { requestedAt: number; gracePeriodSeconds: number };
  /** the pod's network while it runs (sandbox/network.ts) */
  network?: PodNetwork;
  /** why the limits and requests it asks for are not enforced (cgroup/pod-limits.ts) */
  notEnforced?: string;
}

export function describeInput(v: PodView): DescribeInput {
  return {
    pod: v.record.pod,
    original: v.record.original,
    status: statusOf(v),
    events: v.dir.events(),
    deletion: deletionOf(v),
    network: v.alive && !v.state?.runtime.finished ? v.state?.runtime.network : undefined,
    notEnforced: notEnforcedOf(v.state?.runtime.limits),
  };
}

function notEnforcedOf(limits: PodLimits | undefined): string | undefined {
  return limits && 'notEnforced' in limits ? limits.notEnforced : undefined;
}

/** The deletion `podbox delete` requested, while the supervisor still works on it. */
function deletionOf(v: PodView): DescribeInput['deletion'] {
  const req = v.dir.deleteRequest();
  if (!v.alive || v.state?.runtime.finished || !req) return undefined;
  return {
    requestedAt: req.requestedAt,
    gracePeriodSeconds: req.gracePeriodSeconds ?? v.record.pod.spec.terminationGracePeriodSeconds,
  };
}

// kubectl skips this annotation and shortens longer ones (describe.go skipAnnotations, maxAnnotationLen).
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const MAX_ANNOTATION_LEN = 140;

/** `kubectl describe pod` for one pod at time `now` (ms). Pure: no files, no clock. */
export function describePod(d: DescribeInput, now: number): string {
  const { pod, status: s } = d;
  const original = (d.original ?? {}) as {
    metadata?: { ownerReferences?: { kind: string; name: string; controller?: boolean }[] };
    spec?: {
      priority?: number;
      priorityClassName?: string;
      nodeSelector?: Record<string, string>;
      tolerations?: Toleration[];
    };
  };
  const ospec = original.spec ?? {};
  const w = new Lines();
  w.add(0, `Name:\t${pod.metadata.name}`);
  w.add(0, `Namespace:\t${pod.metadata.namespace}`);
  // The API server's Priority admission sets priority 0 when no class is named.
  w.add(0, `Priority:\t${ospec.priority ?? 0}`);
  if (ospec.priorityClassName) w.add(0, `Priority Class Name:\t${ospec.priorityClassName}`);
  // The ServiceAccount admission names the "default" account when none is given.
  w.add(0, `Service Account:\t${pod.spec.serviceAccountName ?? 'default'}`);
  w.add(0, `Node:\t${NODE_NAME}/${s.hostIP}`);
  if (s.startTime) w.add(0, `Start Time:\t${rfc1123z(Date.parse(s.startTime))}`);
  labelsMultiline(w, 'Labels', pod.metadata.labels);
  annotationsMultiline(w, pod.metadata.annotations);
  if (d.deletion && s.phase !== 'Failed' && s.phase !== 'Succeeded') {
    // kubectl shows the time since deletionTimestamp, which the API server sets to the request
    // time plus the grace period: "<invalid>" while the grace period runs, as kubectl prints it.
    const deletionTimestamp = d.deletion.requestedAt + d.deletion.gracePeriodSeconds * 1000;
    w.add(0, `Status:\tTerminating (lasts ${since(deletionTimestamp, now)})`);
    w.add(0, `Termination Grace Period:\t${d.deletion.gracePeriodSeconds}s`);
  } else {
    w.add(0, `Status:\t${s.phase}`);
  }
  if (s.reason) w.add(0, `Reason:\t${s.reason}`);
  if (s.message) w.add(0, `Message:\t${s.message}`);
  w.add(0, `IP:\t${s.podIP ?? ''}`);
  if (s.podIPs?.length) {
    w.add(0, 'IPs:');
    for (const ip of s.podIPs) w.add(1, `IP:\t${ip.ip}`);
  } else {
    w.add(0, 'IPs:\t<none>');
  }
  // describe.go printController: the owner marked controller (a static pod's is its Node, as a mirror pod's).
  const controller = original.metadata?.ownerReferences?.find((r) => r.controller);
  if (controller) w.add(0, `Controlled By:\t${controller.kind}/${controller.name}`);
  if (d.network) network(w, d.network);
  if (pod.spec.initContainers?.length) {
    containers(w, 'Init Containers', pod, pod.spec.initContainers, s.initContainerStatuses ?? [], d);
  }
  containers(w, 'Containers', pod, pod.spec.containers, s.containerStatuses, d);
  if (s.conditions.length) {
    w.add(0, 'Conditions:');
    w.add(1, 'Type\tStatus');
    // The trailing spaces are kubectl's ("%v \t%v \n").
    for (const c of s.conditions) w.add(1, `${c.type} \t${c.status} `);
  }
  volumes(w, pod.spec.volumes ?? []);
  w.add(0, `QoS Class:\t${s.qosClass}`);
  labelsMultiline(w, 'Node-Selectors', ospec.nodeSelector);
  tolerations(w, ospec.tolerations ?? []);
  events(w, d.events, now);
  return tabwrite(w.text());
}

/** Lines at kubectl's indentation levels (PrefixWriter: two spaces a level), escaped as it escapes them. */
class Lines {
  private readonly out: string[] = [];
  add(level: number, line: string): void {
    // printers.WriteEscaped: ESC and CR from the pod cannot drive the terminal.
    this.out.push('  '.repeat(level) + line.replaceAll('\x1b', '^[').replaceAll('\r', '\\r'));
  }
  text(): string {
    return this.out.map((l) => `${l}\n`).join('');
  }
}

function containers(
  w: Lines,
  label: string,
  pod: Pod,
  specs: Container[],
  statuses: ContainerStatus[],
  d: DescribeInput,
): void {
  const evs = d.events;
  w.add(0, `${label}:${specs.length ? '' : ' <none>'}`);
  for (const c of specs) {
    const st = statuses.find((x) => x.name === c.name);
    w.add(1, `${c.name}:`);
    if (st) w.add(2, `Container ID:\t${st.containerID ?? ''}`);
    w.add(2, `Image:\t${c.image}`);
    if (st) w.add(2, `Image ID:\t${st.imageID}`);
    const ports = (c.ports ?? [])
      .map((p) => `${p.containerPort}/${p.protocol}${p.name ? ` (${p.name})` : ''}`)
      .join(', ');
    const hostPorts = (c.ports ?? [])
      .map((p) => `${p.hostPort ?? 0}/${p.protocol}${p.name ? ` (${p.name})` : ''}`)
      .join(', ');
    w.add(2, ports.includes(',') ? `Ports:\t${ports}` : `Port:\t${ports || '<none>'}`);
    w.add(2, hostPorts.includes(',') ? `Host Ports:\t${hostPorts}` : `Host Port:\t${hostPorts || '<none>'}`);
    for (const [title, list] of [
      ['Command', c.command],
      ['Args', c.args],
    ] as const) {
      if (!list?.length) continue;
      w.add(2, `${title}:`);
      for (const item of list) for (const line of item.split('\n')) w.add(3, line);
    }
    if (st) {
      state(w, 'State', st.state);
      if ('terminated' in st.lastState && st.lastState.terminated)
        state(w, 'Last State', { terminated: st.lastState.terminated });
      w.add(2, `Ready:\t${st.ready ? 'True' : 'False'}`);
      w.add(2, `Restart Count:\t${st.restartCount}`);
    }
    // Not a kubectl field: podbox keeps the container running when its log cannot be written, and
    // says here how much of its output is missing from `podbox logs`.
    const lost = logLinesLostOf(evs, label !== 'Containers', c.name);
    if (lost > 0) w.add(2, `Log Lines Lost:\t${lost}`);
    for (const [title, list] of [
      ['Limits', c.resources?.limits],
      ['Requests', c.resources?.requests],
    ] as const) {
      const names = Object.keys(list ?? {}).sort();
      if (!names.length) continue;
      // Not a kubectl field: said where podbox cannot enforce them (no cgroup it may write).
      w.add(2, `${title}:${d.notEnforced ? '\t(not enforced)' : ''}`);
      for (const n of names) w.add(3, `${n}:\t${list![n]}`);
    }
    if (c.livenessProbe) w.add(2, `Liveness:\t${describeProbe(c.livenessProbe)}`);
    if (c.readinessProbe) w.add(2, `Readiness:\t${describeProbe(c.readinessProbe)}`);
    if (c.startupProbe) w.add(2, `Startup:\t${describeProbe(c.startupProbe)}`);
    environment(w, pod, c);
    const mounts = [...(c.volumeMounts ?? [])].sort((a, b) =>
      a.mountPath < b.mountPath ? -1 : a.mountPath > b.mountPath ? 1 : 0,
    );
    w.add(2, `Mounts:${mounts.length ? '' : '\t<none>'}`);
    for (const m of mounts) {
      const flags = [m.readOnly ? 'ro' : 'rw', ...(m.subPath ? [`path=${JSON.stringify(m.subPath)}`] : [])];
      w.add(3, `${m.mountPath} from ${m.name} (${flags.join(',')})`);
    }
  }
}

/** A container's Environment Variables from and Environment, as describeContainerEnvVars prints them. */
function environment(w: Lines, pod: Pod, c: Container): void {
  if (c.envFrom?.length) {
    w.add(2, 'Environment Variables from:');
    for (const e of c.envFrom) {
      const [from, ref] = e.configMapRef
        ? ['ConfigMap', e.configMapRef]
        : e.secretRef
          ? ['Secret', e.secretRef]
          : ['', undefined];
      const prefix = e.prefix ? ` with prefix '${e.prefix}'` : '';
      w.add(3, `${ref?.name ?? ''}\t${from}${prefix}\tOptional: ${ref?.optional === true}`);
    }
  }
  w.add(2, `Environment:${c.env?.length ? '' : '\t<none>'}`);
  for (const e of c.env ?? []) {
    const from = e.valueFrom;
    if (from?.fieldRef) {
      w.add(
        3,
        `${e.name}:\t${fieldRefValue(pod, from.fieldRef.fieldPath)} (${from.fieldRef.apiVersion ?? 'v1'}:${from.fieldRef.fieldPath})`,
      );
    } else if (from?.secretKeyRef) {
      w.add(
        3,
        `${e.name}:\t<set to the key '${from.secretKeyRef.key}' in secret '${from.secretKeyRef.name}'>\tOptional: ${from.secretKeyRef.optional === true}`,
      );
    } else if (from?.configMapKeyRef) {
      w.add(
        3,
        `${e.name}:\t<set to the key '${from.configMapKeyRef.key}' of config map '${from.configMapKeyRef.name}'>\tOptional: ${from.configMapKeyRef.optional === true}`,
      );
    } else {
      (e.value ?? '').split('\n').forEach((line, i) => w.add(3, i === 0 ? `${e.name}:\t${line}` : `\t${line}`));
    }
  }
}

/**
 * What kubectl's env resolver shows for a fieldRef: it reads the Pod object with
 * fieldpath.ExtractFieldPathAsString, which knows metadata only; other paths show empty.
 */
function fieldRefValue(pod: Pod, path: string): string {
  return metadataFieldValue(pod, path) ?? '';
}

function state(w: Lines, title: string, st: ContainerState): void {
  if ('running' in st) {
    w.add(2, `${title}:\tRunning`);
    w.add(3, `Started:\t${rfc1123z(Date.parse(st.running.startedAt))}`);
  } else if ('terminated' in st) {
    const t = st.terminated;
    w.add(2, `${title}:\tTerminated`);
    if (t.reason) w.add(3, `Reason:\t${t.reason}`);
    if (t.message) w.add(3, `Message:\t${t.message}`);
    w.add(3, `Exit Code:\t${t.exitCode}`);
    if (t.signal) w.add(3, `Signal:\t${t.signal}`);
    w.add(3, `Started:\t${rfc1123z(t.startedAt ? Date.parse(t.startedAt) : undefined)}`);
    w.add(3, `Finished:\t${rfc1123z(Date.parse(t.finishedAt))}`);
  } else {
    w.add(2, `${title}:\tWaiting`);
    if ('waiting' in st && st.waiting.reason) w.add(3, `Reason:\t${st.waiting.reason}`);
  }
}

/**
 * A probe on one line, as kubectl's DescribeProbe prints it up to v1.36
 * (v1.37 renames #success/#failure to successThreshold/failureThreshold).
 */
export function describeProbe(p: Probe): string {
  const attrs = `delay=${p.initialDelaySeconds}s timeout=${p.timeoutSeconds}s period=${p.periodSeconds}s #success=${p.successThreshold} #failure=${p.failureThreshold}`;
  if (p.exec) return `exec [${p.exec.command.join(' ')}] ${attrs}`;
  if (p.httpGet) {
    const h = p.httpGet;
    // Go's url.URL{Scheme, Host: net.JoinHostPort(host, port), Path}.String()
    const host = h.host?.includes(':') ? `[${h.host}]` : (h.host ?? '');
    const path = h.path && !h.path.startsWith('/') ? `/${h.path}` : (h.path ?? '');
    return `http-get ${h.scheme.toLowerCase()}://${host}:${h.port}${encodeURI(path)} ${attrs}`;
  }
  if (p.tcpSocket) return `tcp-socket ${p.tcpSocket.host ?? ''}:${p.tcpSocket.port} ${attrs}`;
  if (p.grpc) return `grpc <pod>:${p.grpc.port} ${p.grpc.service ?? ''} ${attrs}`;
  return `unknown ${attrs}`;
}

function volumes(w: Lines, vols: Volume[]): void {
  if (!vols.length) {
    w.add(0, 'Volumes:\t<none>');
    return;
  }
  w.add(0, 'Volumes:');
  for (const v of vols) {
    w.add(1, `${v.name}:`);
    if (v.emptyDir) {
      w.add(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)");
      w.add(2, `Medium:\t${v.emptyDir.medium ?? ''}`);
      const limit = v.emptyDir.sizeLimit;
      w.add(2, `SizeLimit:\t${limit && !/^0+(\.0*)?[a-zA-Z]*$/.test(limit) ? canonicalQuantity(limit) : '<unset>'}`);
    } else if (v.hostPath) {
      // printHostPathVolumeSource
      w.add(2, 'Type:\tHostPath (bare host directory volume)');
      w.add(2, `Path:\t${v.hostPath.path}`);
      w.add(2, `HostPathType:\t${v.hostPath.type}`);
    } else if (v.persistentVolumeClaim) {
      // printPersistentVolumeClaimVolumeSource
      w.add(2, 'Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)');
      w.add(2, `ClaimName:\t${v.persistentVolumeClaim.claimName}`);
      w.add(2, `ReadOnly:\t${v.persistentVolumeClaim.readOnly === true}`);
    } else if (v.configMap) {
      w.add(2, 'Type:\tConfigMap (a volume populated by a ConfigMap)');
      w.add(2, `Name:\t${v.configMap.name}`);
      w.add(2, `Optional:\t${v.configMap.optional === true}`);
    } else if (v.secret) {
      w.add(2, 'Type:\tSecret (a volume populated by a Secret)');
      w.add(2, `SecretName:\t${v.secret.secretName}`);
      w.add(2, `Optional:\t${v.secret.optional === true}`);
    } else if (v.downwardAPI) {
      downwardAPIVolume(w, v.downwardAPI.items ?? []);
    } else if (v.projected) {
      // kubectl printProjectedVolumeSource; its Optional is a *bool, printed as <nil> when unset.
      w.add(2, 'Type:\tProjected (a volume that contains injected data from multiple sources)');
      for (const src of v.projected.sources ?? []) {
        if (src.secret) {
          w.add(2, `SecretName:\t${src.secret.name}`);
          w.add(2, `SecretOptionalName:\t${src.secret.optional ?? '<nil>'}`);
        } else if (src.downwardAPI) {
          w.add(2, 'DownwardAPI:\ttrue');
        } else if (src.configMap) {
          w.add(2, `ConfigMapName:\t${src.configMap.name}`);
          w.add(2, `ConfigMapOptional:\t${src.configMap.optional ?? '<nil>'}`);
        }
      }
    } else if (v.image) {
      // kubectl printImageVolumeSource.
      w.add(2, 'Type:\tImage (a container image or OCI artifact)');
      w.add(2, `Reference:\t${v.image.reference}`);
      w.add(2, `PullPolicy:\t${v.image.pullPolicy ?? ''}`);
    } else {
      w.add(1, '<unknown>');
    }
  }
}

/** kubectl printDownwardAPIVolumeSource: each item as `FIELD -> PATH`. */
function downwardAPIVolume(w: Lines, items: NonNullable<NonNullable<Volume['downwardAPI']>['items']>): void {
  w.add(2, 'Type:\tDownwardAPI (a volume populated by information about the pod)');
  w.add(2, 'Items:');
  for (const it of items) {
    if (it.fieldRef) w.add(3, `${it.fieldRef.fieldPath} -> ${it.path}`);
    if (it.resourceFieldRef) w.add(3, `${it.resourceFieldRef.resource} -> ${it.path}`);
  }
}

function labelsMultiline(w: Lines, title: string, labels: Record<string, string> | undefined): void {
  const keys = Object.keys(labels ?? {}).sort();
  if (!keys.length) {
    w.add(0, `${title}:\t<none>`);
    return;
  }
  keys.forEach((k, i) => w.add(0, `${i === 0 ? `${title}:` : ''}\t${k}=${labels![k]}`));
}

function annotationsMultiline(w: Lines, annotations: Record<string, string> | undefined): void {
  const keys = Object.keys(annotations ?? {})
    .filter((k) => k !== LAST_APPLIED)
    .sort();
  if (!keys.length) {
    w.add(0, 'Annotations:\t<none>');
    return;
  }
  keys.forEach((k, i) => {
    const head = i === 0 ? 'Annotations:' : '';
    const value = annotations![k]!.replace(/\n$/, '');
    if (value.length + k.length + 2 > MAX_ANNOTATION_LEN || value.includes('\n')) {
      w.add(0, `${head}\t${k}:`);
      const shorten = (s: string) =>
        s.length > MAX_ANNOTATION_LEN - 2 ? `${s.slice(0, MAX_ANNOTATION_LEN - 2)}...` : s;
      for (const line of value.split('\n')) w.add(0, `\t  ${shorten(line)}`);
    } else {
      w.add(0, `${head}\t${k}: ${value}`);
    }
  });
}

interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

function tolerations(w: Lines, list: Toleration[]): void {
  if (!list.length) {
    w.add(0, 'Tolerations:\t<none>');
    return;
  }
  [...list]
    .sort((a, b) => ((a.key ?? '') < (b.key ?? '') ? -1 : (a.key ?? '') > (b.key ?? '') ? 1 : 0))
    .forEach((t, i) => {
      let text = t.key ?? '';
      if (t.value) text += `=${t.value}`;
      if (t.effect) text += `:${t.effect}`;
      if (t.operator === 'Exists' && !t.value) text += t.key || t.effect ? ' op=Exists' : 'op=Exists';
      if (t.tolerationSeconds !== undefined) text += ` for ${t.tolerationSeconds}s`;
      w.add(0, `${i === 0 ? 'Tolerations:' : ''}\t${text}`);
    });
}

/** Who reported an event: the scheduler placed the pod, the kubelet did the rest. */
function source(e: PodEvent): string {
  return e.reason === 'Scheduled' ? 'default-scheduler' : 'kubelet';
}

function events(w: Lines, list: PodEvent[], now: number): void {
  if (!list.length) {
    w.add(0, 'Events:\t<none>');
    return;
  }
  // Oldest last-seen first (kubectl's event.SortableEvents); Array.sort is stable for ties.
  const sorted = [...list].sort((a, b) => Date.parse(a.lastTimestamp) - Date.parse(b.lastTimestamp));
  w.add(0, 'Events:');
  w.add(1, 'Type\tReason\tAge\tFrom\tMessage');
  w.add(1, '----\t------\t----\t----\t-------');
  for (const e of sorted) {
    const first = since(Date.parse(e.firstTimestamp), now);
    const age = e.count > 1 ? `${since(Date.parse(e.lastTimestamp), now)} (x${e.count} over ${first})` : first;
    w.add(1, `${e.type}\t${e.reason}\t${age}\t${source(e)}\t${e.message.trim()}`);
  }
}

/** translateTimestampSince: HumanDuration of now - t, "<invalid>" for a time more than a second ahead. */
function since(t: number, now: number): string {
  if (Number.isNaN(t)) return '<unknown>';
  if (Math.trunc((now - t) / 1000) < -1) return '<invalid>';
  return humanDuration(Math.max(0, now - t));
}

/** podbox's own section (kubectl has none): the pod's network mode, its stack and what it publishes. */
function network(w: Lines, n: PodNetwork): void {
  w.add(0, `Network:\t${n.mode}`);
  if (n.interface) w.add(1, `Interface:\t${n.interface} ${n.podIP}/24 mtu ${n.mtu}`);
  if (n.gateway) w.add(1, `Gateway:\t${n.gateway} (the host)`);
  if (n.dnsForward) w.add(1, `DNS Forwarder:\t${n.dnsForward}`);
  const relay = n.dnsRelay;
  if (relay) {
    const to = relay.upstreams.map((u) => `${u.host.includes(':') ? `[${u.host}]` : u.host}:${u.port}`).join(', ');
    w.add(1, `DNS Relay:\t${relay.address}:53 -> ${to}`);
  }
  if (n.stackPid) w.add(1, `Stack:\t${n.mode} pid ${n.stackPid}`);
  w.add(1, `Published:\t${publishedText(n.published) || '<none>'}`);
}
