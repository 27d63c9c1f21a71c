import { z } from 'zod';
import { DOCKER_CONFIG_KEYS } from '../registry/pull-secrets.js';
import { DNS_SUBDOMAIN } from './names.js';
import { quantityValue } from './quantity.js';

/**
 * The v1 Pod, ConfigMap and Secret objects as the Kubernetes API server decodes them: strict
 * (an unknown field is an error, as `kubectl apply --validate=strict` reports it), with the
 * field defaults of pkg/apis/core/v1/defaults.go and the value rules of
 * pkg/apis/core/validation/validation.go that a single object can check by itself. Rules that
 * relate fields to each other (unique names, references) are in validation.ts.
 * (Near 500 lines: the whole accepted v1 Pod, field by field, is in this one file so that a field's
 * name finds its rule, its default and whether podbox supports it.)
 *
 * Three kinds of field appear here besides the supported ones:
 *  - `ignored()`: Kubernetes fields that only mean something to a scheduler or an API server
 *    (nodeSelector, tolerations, serviceAccountName...). On one machine they are already
 *    satisfied, so they are accepted and have no effect, as on a cluster's only node.
 *  - `unsupported(why)`: real Kubernetes fields podbox does not implement. Setting one is an
 *    UnsupportedField error naming the field, never a silent no-op.
 *  - anything else is unknown: a typo, reported with its path.
 */

/** Marks an issue as "podbox does not support this field" rather than "this value is invalid". */
export const UNSUPPORTED = 'podbox-unsupported';

/** An empty or false value means the field is not really set (`hostNetwork: false`, `volumeDevices: []`). */
function isUnset(v: unknown): boolean {
  return (
    v === undefined ||
    v === null ||
    v === false ||
    v === '' ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && v !== null && Object.keys(v).length === 0)
  );
}

export const ignored = () => z.unknown().optional();
export const unsupported = (why: string) =>
  z
    .unknown()
    .optional()
    .superRefine((v, ctx) => {
      if (!isUnset(v)) ctx.addIssue({ code: 'custom', message: why, params: { [UNSUPPORTED]: true } });
    });

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** IANA service name, the rule for named ports (validation.ValidatePortName). */
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9]|-(?!-))*[a-z0-9]?$/;
/** resource.Quantity's text form: a number and an optional SI, binary or exponent suffix. */
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+)?$/;
/** ConfigMap/Secret keys (validation.IsConfigMapKey). */
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

export const dnsLabel = z
  .string()
  .max(63, 'must be no more than 63 characters')
  .regex(
    DNS_LABEL,
    "must be a lowercase RFC 1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit",
  );
export const dnsSubdomain = z
  .string()
  .max(253, 'must be no more than 253 characters')
  .regex(
    DNS_SUBDOMAIN,
    "must be a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
  );
const quantity = z
  .union([z.string(), z.number()])
  .transform((q) => String(q))
  .refine((q) => QUANTITY.test(q), 'must be a quantity such as 64Mi, 1G, 500m or 2');
export const nonNegative = z.number().int().min(0);
const positive = z.number().int().min(1);
export const port = z.number().int().min(1, 'must be between 1 and 65535').max(65535, 'must be between 1 and 65535');
export const portRef = z.union([
  port,
  z.string().max(15).regex(PORT_NAME, 'must be a port number or the name of a container port'),
]);
// validation.IsConfigMapKey also refuses '.', '..' and a leading '..' (the projected files' own names).
const configKey = z
  .string()
  .max(253)
  .regex(CONFIG_KEY, "must consist of alphanumeric characters, '-', '_' or '.'")
  .refine((k) => k !== '.' && !k.startsWith('..'), "must not be '.' or '..' or start with '..'");
/** A path below a volume (validation.go validateLocalDescendingPath): relative, no '..' component. */
const descendingPath = (p: string) => !p.startsWith('/') && !p.split('/').includes('..');
export const stringMap = z.record(z.string(), z.string());

/** Marks an issue whose message is the API server's own wording, shown as it is. */
export const API_MESSAGE = 'podbox-api-message';

/**
 * apimachinery's ValidateAnnotations (pkg/api/validation/objectmeta.go): keys and values together at
 * most TotalAnnotationSizeLimitB = 256 KiB, counted in bytes.
 */
export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;
const annotations = stringMap.superRefine((m, ctx) => {
  let total = 0;
  for (const [k, v] of Object.entries(m)) total += Buffer.byteLength(k) + Buffer.byteLength(v);
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `Too long: must have at most ${TOTAL_ANNOTATION_SIZE_LIMIT} bytes`,
      params: { [API_MESSAGE]: true, hint: 'keep annotations under 256 KiB in total' },
    });
  }
});

export const metadata = z.strictObject({
  name: dnsSubdomain.optional(),
  generateName: z.string().optional(),
  namespace: dnsLabel.default('default'),
  labels: stringMap.optional(),
  annotations: annotations.optional(),
  uid: z.string().optional(),
  // Set by an API server; accepted so `kubectl get -o yaml` output can be run again.
  creationTimestamp: ignored(),
  resourceVersion: ignored(),
  generation: ignored(),
  selfLink: ignored(),
  managedFields: ignored(),
  ownerReferences: ignored(),
  finalizers: ignored(),
  deletionTimestamp: ignored(),
  deletionGracePeriodSeconds: ignored(),
});

export const execAction = z.strictObject({
  command: z.array(z.string()).min(1, 'Required value: give the command to run'),
});
export const httpGet = z.strictObject({
  path: z.string().default('/'),
  port: portRef,
  host: z.string().optional(),
  scheme: z.enum(['HTTP', 'HTTPS']).default('HTTP'),
  httpHeaders: z.array(z.strictObject({ name: z.string().min(1), value: z.string() })).optional(),
});
const tcpSocket = z.strictObject({ port: portRef, host: z.string().optional() });
export const grpc = z.strictObject({ port, service: z.string().optional() });

/** Probe defaults: timeout 1s, period 10s, success 1, failure 3 (defaults.go SetDefaults_Probe). */
export const probe = z.strictObject({
  exec: execAction.optional(),
  httpGet: httpGet.optional(),
  tcpSocket: tcpSocket.optional(),
  grpc: grpc.optional(),
  initialDelaySeconds: nonNegative.default(0),
  timeoutSeconds: positive.default(1),
  periodSeconds: positive.default(10),
  successThreshold: positive.default(1),
  failureThreshold: positive.default(3),
  terminationGracePeriodSeconds: positive.optional(),
});

export const lifecycleHandler = z.strictObject({
  exec: execAction.optional(),
  httpGet: httpGet.optional(),
  tcpSocket: tcpSocket.optional(),
  sleep: z.strictObject({ seconds: z.number().int().min(0) }).optional(),
});

const capabilities = z.strictObject({ add: z.array(z.string()).optional(), drop: z.array(z.string()).optional() });
const profileType = (what: string) =>
  z
    .strictObject({
      type: z.enum(['Unconfined', 'RuntimeDefault', 'Localhost']),
      localhostProfile: z.string().optional(),
    })
    .superRefine((p, ctx) => {
      if (p.type !== 'Unconfined') {
        ctx.addIssue({
          code: 'custom',
          path: ['type'],
          message: `${what} profiles are not applied by podbox: use type Unconfined or remove the field`,
          params: { [UNSUPPORTED]: true },
        });
      }
    });

const securityContext = z.strictObject({
  runAsUser: nonNegative.optional(),
  runAsGroup: nonNegative.optional(),
  runAsNonRoot: z.boolean().optional(),
  readOnlyRootFilesystem: z.boolean().optional(),
  allowPrivilegeEscalation: z.boolean().optional(),
  // A privileged container gets every capability and the host's devices (runtime-spec "privileged" in
  // containerd's CRI): nothing a user namespace can give, so refused by name rather than ignored.
  privileged: z
    .boolean()
    .optional()
    .superRefine((v, ctx) => {
      if (v === true)
        ctx.addIssue({
          code: 'custom',
          message:
            "privileged containers are not supported: podbox gives no container the host's devices or every " +
            'capability; add the capabilities it needs (capabilities.add) instead',
          params: { [UNSUPPORTED]: true },
        });
    }),
  capabilities: capabilities.optional(),
  seccompProfile: profileType('seccomp').optional(),
  appArmorProfile: profileType('AppArmor').optional(),
  // No SELinux or Windows on the machines podbox runs on: the kubelet ignores these there too.
  seLinuxOptions: ignored(),
  windowsOptions: ignored(),
  // Unmasked needs hostUsers: false, as the API server checks (validation.ts procMountChecks).
  procMount: z.enum(['Default', 'Unmasked']).optional(),
});

const podSecurityContext = z.strictObject({
  runAsUser: nonNegative.optional(),
  runAsGroup: nonNegative.optional(),
  runAsNonRoot: z.boolean().optional(),
  supplementalGroups: z.array(nonNegative).optional(),
  supplementalGroupsPolicy: z.enum(['Merge', 'Strict']).optional(),
  fsGroup: nonNegative.optional(),
  fsGroupChangePolicy: z.enum(['OnRootMismatch', 'Always']).optional(),
  seccompProfile: profileType('seccomp').optional(),
  appArmorProfile: profileType('AppArmor').optional(),
  seLinuxOptions: ignored(),
  windowsOptions: ignored(),
  seLinuxChangePolicy: ignored(),
  sysctls: unsupported('sysctls are not supported: remove them'),
});

const keyRef = z.strictObject({ name: z.string().min(1), key: configKey, optional: z.boolean().optional() });
/** v1.ResourceFieldSelector, for env and downward API files (which resources and divisors: validation.ts). */
const resourceFieldSelector = z.strictObject({
  containerName: z.string().optional(),
  resource: z.string().min(1, 'Required value'),
  divisor: quantity.optional(),
});
const envVar = z.strictObject({
  // Since Kubernetes 1.30 any printable ASCII except '=' (RelaxedEnvironmentVariableValidation).
  name: z
    .string()
    .min(1, 'Required value')
    .regex(/^[\x20-\x3c\x3e-\x7e]+$/, "must be printable ASCII characters other than '='"),
  value: z.string().optional(),
  valueFrom: z
    .strictObject({
      fieldRef: z.strictObject({ fieldPath: z.string(), apiVersion: z.literal('v1').optional() }).optional(),
      configMapKeyRef: keyRef.optional(),
      secretKeyRef: keyRef.optional(),
      resourceFieldRef: resourceFieldSelector.optional(),
      fileKeyRef: unsupported('fileKeyRef is not supported: set the value directly'),
    })
    .optional(),
});
const envFrom = z.strictObject({
  prefix: z.string().optional(),
  configMapRef: z.strictObject({ name: z.string().min(1), optional: z.boolean().optional() }).optional(),
  secretRef: z.strictObject({ name: z.string().min(1), optional: z.boolean().optional() }).optional(),
});

const containerPort = z.strictObject({
  name: z
    .string()
    .max(15)
    .regex(PORT_NAME, 'must be an IANA service name (lowercase letters, digits and single dashes, at least one letter)')
    .optional(),
  containerPort: port,
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).default('TCP'),
  // Published by the pod's user-mode stack (sandbox/network.ts), as kubelet's CNI portmap does.
  hostPort: port.optional(),
  hostIP: z.string().ip({ version: 'v4' }).optional(),
});

const volumeMount = z.strictObject({
  name: z.string().min(1),
  mountPath: z
    .string()
    .min(1, 'Required value')
    .refine((p) => p.startsWith('/'), 'must be an absolute path'),
  readOnly: z.boolean().optional(),
  subPath: z.string().refine(descendingPath, "must be a relative path without '..'").optional(),
  subPathExpr: unsupported('subPathExpr is not supported: use subPath'),
  // Volumes are bound privately into the pod's own mount namespace (host-path.ts): nothing mounted
  // later on the host reaches a container, nor the reverse.
  mountPropagation: z
    .enum(['None', 'HostToContainer', 'Bidirectional'])
    .optional()
    .superRefine((v, ctx) => {
      if (v && v !== 'None')
        ctx.addIssue({
          code: 'custom',
          message: `mountPropagation ${v} is not supported: podbox mounts volumes with None (private)`,
          params: { [UNSUPPORTED]: true },
        });
    }),
  recursiveReadOnly: ignored(),
});

const resources = z.strictObject({
  limits: z.record(z.string(), quantity).optional(),
  requests: z.record(z.string(), quantity).optional(),
  claims: unsupported('resource claims are not supported'),
});

/**
 * Pod-level resources (Kubernetes 1.32+, PodLevelResources), as the API server's
 * validatePodResources takes them: cpu and memory only, and no request above its limit.
 */
const POD_LEVEL_RESOURCES = ['cpu', 'memory'];
const podResources = z
  .strictObject({
    limits: z.record(z.string(), quantity).optional(),
    requests: z.record(z.string(), quantity).optional(),
  })
  .superRefine((r, ctx) => {
    for (const kind of ['limits', 'requests'] as const) {
      for (const name of Object.keys(r[kind] ?? {})) {
        if (!POD_LEVEL_RESOURCES.includes(name))
          ctx.addIssue({
            code: 'custom',
            path: [kind, name],
            message: 'not a pod-level resource: supported values: "cpu", "memory"',
          });
      }
    }
    for (const name of POD_LEVEL_RESOURCES) {
      const limit = r.limits?.[name];
      const request = r.requests?.[name];
      if (limit === undefined || request === undefined) continue;
      if ((quantityValue(request) ?? 0) > (quantityValue(limit) ?? 0))
        ctx.addIssue({
          code: 'custom',
          path: ['requests', name],
          message: `must be less than or equal to ${name} limit of ${limit}`,
        });
    }
  });

export const container = z.strictObject({
  name: dnsLabel,
  image: z.string().min(1, 'Required value: give the image to run'),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  workingDir: z.string().optional(),
  env: z.array(envVar).optional(),
  envFrom: z.array(envFrom).optional(),
  ports: z.array(containerPort).optional(),
  volumeMounts: z.array(volumeMount).optional(),
  resources: resources.optional(),
  livenessProbe: probe.optional(),
  readinessProbe: probe.optional(),
  startupProbe: probe.optional(),
  lifecycle: z
    .strictObject({
      postStart: lifecycleHandler.optional(),
      preStop: lifecycleHandler.optional(),
      stopSignal: unsupported("lifecycle.stopSignal is not supported: the image's STOPSIGNAL is used"),
    })
    .optional(),
  securityContext: securityContext.optional(),
  restartPolicy: z.literal('Always').optional(),
  restartPolicyRules: unsupported('restartPolicyRules are not supported'),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  terminationMessagePath: z.string().default('/dev/termination-log'),
  terminationMessagePolicy: z.enum(['File', 'FallbackToLogsOnError']).default('File'),
  stdin: unsupported('stdin is not supported for pod containers: use `podbox exec -i`'),
  stdinOnce: z.boolean().optional(),
  tty: unsupported('tty is not supported for pod containers: use `podbox exec -t`'),
  resizePolicy: ignored(),
  volumeDevices: unsupported('volumeDevices are not supported: podbox has no block volumes'),
});

const keyToPath = z.strictObject({
  key: configKey,
  path: z.string().min(1).refine(descendingPath, "must be a relative path without '..'"),
  mode: z.number().int().min(0).max(0o777).optional(),
});
const mode = z
  .number()
  .int()
  .min(0, 'must be a file mode between 0 and 0777')
  .max(0o777, 'must be a file mode between 0 and 0777');

/**
 * A downward API file (v1.DownwardAPIVolumeFile): which fieldRef paths and resources a volume may
 * name is checked across fields in validation.ts (validateDownwardAPIVolumeFile).
 */
const downwardAPIFile = z.strictObject({
  path: z.string().min(1, 'Required value'),
  fieldRef: z.strictObject({ fieldPath: z.string(), apiVersion: z.literal('v1').optional() }).optional(),
  resourceFieldRef: resourceFieldSelector.optional(),
  mode: mode.optional(),
});
const downwardAPIItems = z.array(downwardAPIFile).optional();
// No API server issues tokens or trust bundles: refused by name (projected.ts says why).
const noApiServer = (what: string) =>
  unsupported(`${what} projections are not supported: podbox has no API server to issue them`);
const volumeProjection = z.strictObject({
  configMap: z
    .strictObject({ name: z.string().min(1), items: z.array(keyToPath).optional(), optional: z.boolean().optional() })
    .optional(),
  secret: z
    .strictObject({ name: z.string().min(1), items: z.array(keyToPath).optional(), optional: z.boolean().optional() })
    .optional(),
  downwardAPI: z.strictObject({ items: downwardAPIItems }).optional(),
  serviceAccountToken: noApiServer('serviceAccountToken'),
  clusterTrustBundle: noApiServer('clusterTrustBundle'),
  podCertificate: noApiServer('podCertificate'),
});

const UNSUPPORTED_VOLUME =
  'is not a supported volume type: podbox supports emptyDir, hostPath, persistentVolumeClaim, configMap, secret, ' +
  'downwardAPI, projected and image';
export const volume = z.strictObject({
  name: dnsLabel,
  emptyDir: z.strictObject({ medium: z.enum(['', 'Memory']).optional(), sizeLimit: quantity.optional() }).optional(),
  // type defaults to "" (HostPathUnset, SetDefaults_HostPathVolumeSource); the path is checked in validation.ts.
  hostPath: z
    .strictObject({
      path: z.string(),
      type: z
        .enum(['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'])
        .default(''),
    })
    .optional(),
  persistentVolumeClaim: z.strictObject({ claimName: z.string(), readOnly: z.boolean().optional() }).optional(),
  configMap: z
    .strictObject({
      name: z.string().min(1),
      items: z.array(keyToPath).optional(),
      defaultMode: mode.default(0o644),
      optional: z.boolean().optional(),
    })
    .optional(),
  secret: z
    .strictObject({
      secretName: z.string().min(1),
      items: z.array(keyToPath).optional(),
      defaultMode: mode.default(0o644),
      optional: z.boolean().optional(),
    })
    .optional(),
  downwardAPI: z.strictObject({ items: downwardAPIItems, defaultMode: mode.default(0o644) }).optional(),
  projected: z
    .strictObject({ sources: z.array(volumeProjection).optional(), defaultMode: mode.default(0o644) })
    .optional(),
  // Kubernetes 1.31+ (ImageVolume); pullPolicy defaults as a container's does (image-volume.ts).
  image: z
    .strictObject({
      reference: z.string().min(1, 'Required value: give the image to mount'),
      pullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
    })
    .optional(),
  ...Object.fromEntries(
    [
      'ephemeral',
      'csi',
      'nfs',
      'iscsi',
      'gitRepo',
      'awsElasticBlockStore',
      'gcePersistentDisk',
      'azureDisk',
      'azureFile',
      'cephfs',
      'cinder',
      'fc',
      'flexVolume',
      'flocker',
      'glusterfs',
      'photonPersistentDisk',
      'portworxVolume',
      'quobyte',
      'rbd',
      'scaleIO',
      'storageos',
      'vsphereVolume',
    ].map((t) => [t, unsupported(`${t} ${UNSUPPORTED_VOLUME}`)]),
  ),
});

export const podSpec = z.strictObject({
  containers: z.array(container).min(1, 'Required value: a pod needs at least one container'),
  initContainers: z.array(container).optional(),
  volumes: z.array(volume).optional(),
  restartPolicy: z.enum(['Always', 'OnFailure', 'Never']).default('Always'),
  terminationGracePeriodSeconds: nonNegative.default(30),
  activeDeadlineSeconds: positive.optional(),
  hostname: dnsLabel.optional(),
  subdomain: dnsLabel.optional(),
  hostAliases: z
    .array(
      z.strictObject({ ip: z.string().ip('must be a valid IP address'), hostnames: z.array(z.string()).optional() }),
    )
    .optional(),
  shareProcessNamespace: z.boolean().optional(),
  securityContext: podSecurityContext.default({}),
  dnsPolicy: z.enum(['ClusterFirst', 'Default', 'None', 'ClusterFirstWithHostNet']).default('ClusterFirst'),
  enableServiceLinks: z.boolean().default(true),
  automountServiceAccountToken: z.boolean().optional(),
  schedulerName: z.string().default('default-scheduler'),
  // Scheduling and API-server fields: satisfied by construction on one machine.
  nodeName: ignored(),
  nodeSelector: ignored(),
  affinity: ignored(),
  tolerations: ignored(),
  topologySpreadConstraints: ignored(),
  priority: ignored(),
  priorityClassName: ignored(),
  preemptionPolicy: ignored(),
  schedulingGates: ignored(),
  serviceAccountName: z.string().optional(),
  // Secrets of type kubernetes.io/dockerconfigjson (or dockercfg) in the same file: registry/pull-secrets.ts.
  imagePullSecrets: z.array(z.strictObject({ name: z.string().optional() })).optional(),
  serviceAccount: ignored(),
  overhead: ignored(),
  resizePolicy: ignored(),
  os: z
    .strictObject({ name: z.enum(['linux', 'windows']) })
    .optional()
    .superRefine((v, ctx) => {
      if (v?.name === 'windows')
        ctx.addIssue({ code: 'custom', message: 'podbox runs Linux pods only', params: { [UNSUPPORTED]: true } });
    }),
  // User namespaces are how podbox always runs; hostUsers is accepted whatever its value.
  hostUsers: z.boolean().optional(),
  // The pod keeps the user's network namespace (sandbox/network.ts: host).
  hostNetwork: z.boolean().optional(),
  hostPID: unsupported('hostPID is not supported: a podbox pod never sees host processes'),
  hostIPC: unsupported('hostIPC is not supported: a podbox pod always has its own IPC namespace'),
  // Checked against dnsPolicy in validation.ts dnsChecks; used by sandbox/resolv-conf.ts.
  dnsConfig: z
    .strictObject({
      nameservers: z.array(z.string()).optional(),
      searches: z.array(z.string()).optional(),
      options: z.array(z.strictObject({ name: z.string().optional(), value: z.string().optional() })).optional(),
    })
    .optional(),
  readinessGates: unsupported('readinessGates are not supported: nothing could ever set their conditions'),
  ephemeralContainers: z
    .unknown()
    .optional()
    .superRefine((v, ctx) => {
      if (!isUnset(v)) ctx.addIssue({ code: 'custom', message: 'Forbidden: cannot be set on create' });
    }),
  runtimeClassName: unsupported('runtimeClassName is not supported: podbox always uses runc'),
  setHostnameAsFQDN: unsupported('setHostnameAsFQDN is not supported'),
  resourceClaims: unsupported('resource claims are not supported'),
  resources: podResources.optional(),
  hostnameOverride: unsupported('hostnameOverride is not supported: use hostname'),
});

export const pod = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Pod'),
  metadata,
  spec: podSpec,
  // The API server ignores status on create; `kubectl get -o yaml` output carries one.
  status: ignored(),
});

const base64 = z.string().refine((s) => /^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(s), 'must be base64-encoded');
const objectMeta = z.strictObject({
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
  labels: stringMap.optional(),
  annotations: annotations.optional(),
  creationTimestamp: ignored(),
  resourceVersion: ignored(),
  uid: ignored(),
  managedFields: ignored(),
});

export const configMap = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('ConfigMap'),
  metadata: objectMeta,
  data: z.record(configKey, z.string()).optional(),
  binaryData: z.record(configKey, base64).optional(),
  immutable: z.boolean().optional(),
});

export const secret = z
  .strictObject({
    apiVersion: z.literal('v1'),
    kind: z.literal('Secret'),
    metadata: objectMeta,
    type: z.string().default('Opaque'),
    data: z.record(configKey, base64).optional(),
    stringData: z.record(configKey, z.string()).optional(),
    immutable: z.boolean().optional(),
  })
  .superRefine((s, ctx) => {
    const key = DOCKER_CONFIG_KEYS[s.type];
    if (key === undefined) return;
    // validation.go ValidateSecret: the type's key is required and must hold a JSON object; stringData
    // counts, as the API server merges it into data before validating. The value is never shown.
    const path = [`data[${key}]`];
    const text = s.stringData?.[key] ?? (s.data?.[key] !== undefined ? decodeBase64(s.data[key]) : undefined);
    if (text === undefined) {
      const hint = `put a docker config.json with the registry credentials in data[${key}], base64-encoded`;
      ctx.addIssue({ code: 'custom', path, message: 'Required value', params: { [API_MESSAGE]: true, hint } });
      return;
    }
    const why = jsonObjectProblem(text);
    if (why) {
      const hint = `give a JSON object such as {"auths":{"registry.example.com":{"auth":"…"}}}`;
      const message = `Invalid value: "<secret contents redacted>": ${why}`;
      ctx.addIssue({ code: 'custom', path, message, params: { [API_MESSAGE]: true, hint } });
    }
  });

function decodeBase64(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}

/** Why `text` is no JSON object (json.Unmarshal into map[string]interface{} fails), or undefined. */
function jsonObjectProblem(text: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    // The parser's position, not the text around it: a secret's content stays out of the message.
    return `not valid JSON (${(e as Error).message.replace(/, "[^]*$/, '').split('\n')[0]})`;
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : 'not a JSON object';
}

/**
 * A v1 PersistentVolumeClaim given with the pod (volume/claim.ts makes it a named volume). The API
 * server's own rules (ValidatePersistentVolumeClaimSpec): at least one access mode, a storage request.
 */
export const persistentVolumeClaim = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('PersistentVolumeClaim'),
  metadata: objectMeta,
  spec: z.strictObject({
    accessModes: z
      .array(z.enum(['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod']))
      .min(1, 'Required value: at least 1 access mode is required'),
    resources: z.strictObject({
      requests: z.record(z.string(), quantity).refine((r) => r.storage !== undefined, 'Required value: storage'),
      limits: z.record(z.string(), quantity).optional(),
    }),
    volumeMode: z
      .enum(['Filesystem', 'Block'])
      .optional()
      .superRefine((v, ctx) => {
        if (v === 'Block')
          ctx.addIssue({
            code: 'custom',
            message: 'volumeMode Block is not supported: podbox volumes are directories',
            params: { [UNSUPPORTED]: true },
          });
      }),
    // Binding and provisioning: one machine, one kind of volume.
    storageClassName: ignored(),
    volumeName: ignored(),
    selector: ignored(),
    volumeAttributesClassName: ignored(),
    dataSource: unsupported('dataSource is not supported: a podbox volume starts empty'),
    dataSourceRef: unsupported('dataSourceRef is not supported: a podbox volume starts empty'),
  }),
  status: ignored(),
});
