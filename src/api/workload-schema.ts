import { z } from 'zod';
import { API_MESSAGE, UNSUPPORTED, dnsLabel, dnsSubdomain, podSpec } from './schema.js';

/**
 * What every workload object (batch/v1 Job, apps/v1 Deployment, ReplicaSet, StatefulSet, DaemonSet)
 * shares: its metadata, and the pod template its controller makes pods from (core/v1
 * PodTemplateSpec), whose spec is validated exactly as a pod's (schema.ts podSpec).
 */

const stringMap = z.record(z.string(), z.string());
const ignored = () => z.unknown().optional();

/**
 * A workload's metadata. The name is required: podbox has no API server to make one from
 * generateName and tell it back. A Job's name also becomes the value of its pods' `job-name`
 * label, which is at most 63 characters (validation.go ValidateJob: "must be no more than 63 characters").
 */
export const workloadMetadata = z.strictObject({
  name: dnsSubdomain.pipe(z.string().max(63, 'must be no more than 63 characters')),
  namespace: dnsLabel.default('default'),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  // Set by an API server; accepted so `kubectl get -o yaml` output can be run again.
  uid: ignored(),
  creationTimestamp: ignored(),
  resourceVersion: ignored(),
  generation: ignored(),
  selfLink: ignored(),
  managedFields: ignored(),
  ownerReferences: ignored(),
  finalizers: ignored(),
  generateName: z
    .unknown()
    .optional()
    .superRefine((v, ctx) => {
      if (v !== undefined)
        ctx.addIssue({
          code: 'custom',
          message: 'generateName is not supported for workloads: podbox names them by metadata.name',
          params: { [UNSUPPORTED]: true },
        });
    }),
});

/** core/v1 PodTemplateSpec: the labels and annotations the pods get, and their spec. */
export const podTemplateSpec = z.strictObject({
  metadata: z
    .strictObject({
      labels: stringMap.optional(),
      annotations: stringMap.optional(),
      // The controller names the pods; a template's own name is ignored, as by the API server.
      name: ignored(),
      generateName: ignored(),
      namespace: ignored(),
      creationTimestamp: ignored(),
      finalizers: ignored(),
    })
    .default({}),
  spec: podSpec,
});

/** metav1.LabelSelector, matchLabels and matchExpressions. */
export const labelSelector = z.strictObject({
  matchLabels: stringMap.optional(),
  matchExpressions: z
    .array(
      z.strictObject({
        key: z.string().min(1),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});

/** A zod issue whose message is the API server's own wording (`Required value: …`), with what to do. */
export function apiIssue(ctx: z.RefinementCtx, path: (string | number)[], message: string, hint: string): void {
  ctx.addIssue({ code: 'custom', path, message, params: { [API_MESSAGE]: true, hint } });
}
