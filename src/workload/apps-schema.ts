import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { PodboxError } from '../errors.js';
import { check } from '../api/manifest.js';
import * as schema from '../api/schema.js';
import { API_MESSAGE } from '../api/schema.js';
import { labelSelector } from '../api/workload-schema.js';
import { goStringMap, selectorIsEmpty, selectorMatches } from './label-selector.js';

/**
 * The four apps/v1 workload kinds as the API server decodes them: strict (an unknown field is an
 * error), with the defaults of pkg/apis/apps/v1/defaults.go and the rules of
 * pkg/apis/apps/validation/validation.go that podbox can check alone. The pod template is checked
 * with the Pod's own schema (api/schema.ts podSpec), so a template's field errors read as a pod's do,
 * under spec.template.spec.
 */

/** intstr.IntOrString as maxSurge/maxUnavailable take it: a count or "N%". */
const intOrPercent = z.union([
  schema.nonNegative,
  z.string().regex(/^\d+%$/, "must be an integer or percentage (e.g '5%')"),
]);

/**
 * A pod template (v1.PodTemplateSpec). ValidatePodTemplateSpecForReplicaSet (and the StatefulSet and
 * DaemonSet equivalents): restartPolicy must be Always; activeDeadlineSeconds is refused.
 */
function podTemplate(kind: string) {
  return z.strictObject({
    metadata: schema.metadata.default({}),
    spec: schema.podSpec.extend({
      restartPolicy: z.literal('Always').default('Always'),
      activeDeadlineSeconds: z
        .unknown()
        .optional()
        .superRefine((v, ctx) => {
          if (v !== undefined && v !== null)
            ctx.addIssue({
              code: 'custom',
              message: `Forbidden: activeDeadlineSeconds in ${kind} is not Supported`,
              params: { [API_MESSAGE]: true, hint: 'remove activeDeadlineSeconds from the template' },
            });
        })
        .transform(() => undefined),
    }),
  });
}

/** The checks every apps/v1 spec makes of its selector and template (ValidateDeploymentSpec and its siblings). */
function selectorChecks(kind: string) {
  return (
    s: { selector: z.output<typeof labelSelector>; template: { metadata: { labels?: Record<string, string> } } },
    ctx: z.RefinementCtx,
  ) => {
    if (selectorIsEmpty(s.selector)) {
      ctx.addIssue({
        code: 'custom',
        path: ['selector'],
        message: `Invalid value: {}: empty selector is invalid for ${kind.toLowerCase()}`,
        params: { [API_MESSAGE]: true, hint: 'give selector.matchLabels the labels of the template' },
      });
    } else if (!selectorMatches(s.selector, s.template.metadata.labels)) {
      ctx.addIssue({
        code: 'custom',
        path: ['template', 'metadata', 'labels'],
        message:
          `Invalid value: ${goStringMap(s.template.metadata.labels)}: ` + '`selector` does not match template `labels`',
        params: {
          [API_MESSAGE]: true,
          hint: 'give spec.template.metadata.labels every label spec.selector.matchLabels asks for',
        },
      });
    }
  };
}

const percentOver100 = (v: number | string) => typeof v === 'string' && Number(v.slice(0, -1)) > 100;

function objectOf<K extends string, S extends z.ZodTypeAny>(kind: K, spec: S) {
  return z.strictObject({
    apiVersion: z.literal('apps/v1'),
    kind: z.literal(kind),
    metadata: schema.metadata,
    spec,
    // The API server ignores status on create; `kubectl get -o yaml` output carries one.
    status: schema.ignored(),
  });
}

const rollingUpdateDeployment = z.strictObject({
  maxSurge: intOrPercent.default('25%'),
  maxUnavailable: intOrPercent.default('25%'),
});

export const deployment = objectOf(
  'Deployment',
  z
    .strictObject({
      replicas: schema.nonNegative.default(1),
      selector: labelSelector,
      template: podTemplate('ReplicaSet'),
      // SetDefaults_Deployment: RollingUpdate, and 25%/25% when the strategy is RollingUpdate.
      strategy: z
        .strictObject({
          type: z.enum(['RollingUpdate', 'Recreate']).default('RollingUpdate'),
          rollingUpdate: rollingUpdateDeployment.optional(),
        })
        .default({})
        .superRefine((s, ctx) => {
          if (s.type === 'Recreate' && s.rollingUpdate !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: ['rollingUpdate'],
              message: "Forbidden: may not be specified when strategy `type` is 'Recreate'",
              params: { [API_MESSAGE]: true, hint: 'remove rollingUpdate, or use type RollingUpdate' },
            });
            return;
          }
          const r = s.rollingUpdate;
          if (!r) return;
          if (percentOver100(r.maxUnavailable))
            ctx.addIssue({
              code: 'custom',
              path: ['rollingUpdate', 'maxUnavailable'],
              message: `Invalid value: "${r.maxUnavailable}": must not be greater than 100%`,
              params: { [API_MESSAGE]: true, hint: 'give at most 100%' },
            });
          const zero = (v: number | string) => v === 0 || v === '0%';
          if (zero(r.maxSurge) && zero(r.maxUnavailable))
            ctx.addIssue({
              code: 'custom',
              path: ['rollingUpdate', 'maxUnavailable'],
              message: `Invalid value: ${JSON.stringify(r.maxUnavailable)}: may not be 0 when \`maxSurge\` is 0`,
              params: { [API_MESSAGE]: true, hint: 'let one of maxSurge and maxUnavailable be above 0' },
            });
        })
        .transform((s) =>
          s.type === 'RollingUpdate'
            ? { type: s.type, rollingUpdate: s.rollingUpdate ?? { maxSurge: '25%', maxUnavailable: '25%' } }
            : { type: s.type },
        ),
      minReadySeconds: schema.nonNegative.default(0),
      revisionHistoryLimit: schema.nonNegative.default(10),
      progressDeadlineSeconds: schema.nonNegative.default(600),
      paused: z.boolean().optional(),
    })
    .superRefine(selectorChecks('Deployment'))
    .superRefine((s, ctx) => {
      if (s.progressDeadlineSeconds <= s.minReadySeconds)
        ctx.addIssue({
          code: 'custom',
          path: ['progressDeadlineSeconds'],
          message: `Invalid value: ${s.progressDeadlineSeconds}: must be greater than minReadySeconds`,
          params: { [API_MESSAGE]: true, hint: 'give progressDeadlineSeconds above minReadySeconds' },
        });
    }),
);

export const replicaSet = objectOf(
  'ReplicaSet',
  z
    .strictObject({
      replicas: schema.nonNegative.default(1),
      minReadySeconds: schema.nonNegative.default(0),
      selector: labelSelector,
      template: podTemplate('ReplicaSet'),
    })
    .superRefine(selectorChecks('ReplicaSet')),
);

/** A volumeClaimTemplates entry: a PersistentVolumeClaim without its apiVersion/kind (both allowed). */
const claimTemplate = z.strictObject({
  apiVersion: z.literal('v1').optional(),
  kind: z.literal('PersistentVolumeClaim').optional(),
  metadata: z.strictObject({
    name: schema.dnsLabel,
    labels: schema.stringMap.optional(),
    annotations: schema.stringMap.optional(),
    creationTimestamp: schema.ignored(),
  }),
  spec: schema.persistentVolumeClaim.shape.spec,
  status: schema.ignored(),
});

export const statefulSet = objectOf(
  'StatefulSet',
  z
    .strictObject({
      replicas: schema.nonNegative.default(1),
      selector: labelSelector,
      template: podTemplate('StatefulSet'),
      // The governing (headless) Service: each pod's subdomain (stateful_set_utils.go updateIdentity).
      serviceName: z.string().optional(),
      podManagementPolicy: z.enum(['OrderedReady', 'Parallel']).default('OrderedReady'),
      // SetDefaults_StatefulSet: RollingUpdate with partition 0.
      updateStrategy: z
        .strictObject({
          type: z.enum(['RollingUpdate', 'OnDelete']).default('RollingUpdate'),
          rollingUpdate: z
            .strictObject({ partition: schema.nonNegative.default(0), maxUnavailable: intOrPercent.optional() })
            .optional(),
        })
        .default({})
        .transform((s) =>
          s.type === 'RollingUpdate' ? { type: s.type, rollingUpdate: s.rollingUpdate ?? { partition: 0 } } : s,
        ),
      revisionHistoryLimit: schema.nonNegative.default(10),
      minReadySeconds: schema.nonNegative.default(0),
      volumeClaimTemplates: z.array(claimTemplate).optional(),
      // What happens to the claims when the set is deleted or scaled down: podbox keeps them (Retain).
      persistentVolumeClaimRetentionPolicy: schema.ignored(),
      ordinals: z.strictObject({ start: schema.nonNegative.default(0) }).optional(),
    })
    .superRefine(selectorChecks('StatefulSet')),
);

export const daemonSet = objectOf(
  'DaemonSet',
  z
    .strictObject({
      selector: labelSelector,
      template: podTemplate('DaemonSet'),
      // SetDefaults_DaemonSet: RollingUpdate, maxUnavailable 1, maxSurge 0.
      updateStrategy: z
        .strictObject({
          type: z.enum(['RollingUpdate', 'OnDelete']).default('RollingUpdate'),
          rollingUpdate: z
            .strictObject({ maxUnavailable: intOrPercent.default(1), maxSurge: intOrPercent.default(0) })
            .optional(),
        })
        .default({})
        .transform((s) =>
          s.type === 'RollingUpdate'
            ? { type: s.type, rollingUpdate: s.rollingUpdate ?? { maxUnavailable: 1, maxSurge: 0 } }
            : s,
        ),
      minReadySeconds: schema.nonNegative.default(0),
      revisionHistoryLimit: schema.nonNegative.default(10),
    })
    .superRefine(selectorChecks('DaemonSet')),
);

type Named<T> = T & { metadata: { name: string; uid: string } };
export type Deployment = Named<z.output<typeof deployment>>;
export type ReplicaSet = Named<z.output<typeof replicaSet>>;
export type StatefulSet = Named<z.output<typeof statefulSet>>;
export type DaemonSet = Named<z.output<typeof daemonSet>>;
/** A decoded pod template (metadata defaulted, spec as a Pod's). */
export type PodTemplate = Deployment['spec']['template'];

export function decodeDeployment(value: unknown, where: string): Deployment {
  return named(check(deployment, value, where, label('deployment', value)), where, label('deployment', value));
}
export function decodeReplicaSet(value: unknown, where: string): ReplicaSet {
  return named(check(replicaSet, value, where, label('replicaset', value)), where, label('replicaset', value));
}
export function decodeStatefulSet(value: unknown, where: string): StatefulSet {
  return named(check(statefulSet, value, where, label('statefulset', value)), where, label('statefulset', value));
}
export function decodeDaemonSet(value: unknown, where: string): DaemonSet {
  return named(check(daemonSet, value, where, label('daemonset', value)), where, label('daemonset', value));
}

/** `deployment "web"`: how errors name the object, as kubectl names it (resource, then name). */
function label(resource: string, value: unknown): string {
  const m = (value as { metadata?: { name?: unknown } } | null)?.metadata;
  return `${resource} "${String(m?.name ?? '')}"`;
}

/**
 * A controller's object needs a name (its pods are named after it, so generateName would be
 * pointless here) and a uid (its pods' ownerReferences name it): given, or made as the API server does.
 */
function named<T extends { metadata: { name?: string; uid?: string } }>(
  o: T,
  where: string,
  what: string,
): T & { metadata: { name: string; uid: string } } {
  if (!o.metadata.name)
    throw new PodboxError(
      'InvalidManifest',
      `${where}: ${what} is invalid: metadata.name: Required value: name is required`,
      'set metadata.name: the pods are named after it',
    );
  return { ...o, metadata: { ...o.metadata, name: o.metadata.name, uid: o.metadata.uid ?? randomUUID() } };
}
