import { randomBytes, randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { DecodedPod, Pod } from '../api/types.js';
import type { podTemplateSpec } from '../api/workload-schema.js';
import { fieldError, withDefaults } from '../api/manifest.js';
import { crossChecks } from '../api/validation.js';
import type { Ids, WorkloadContext, WorkloadObject } from './object.js';

type PodTemplateSpec = z.output<typeof podTemplateSpec>;

/** A workload's pod template as a defaulted Pod (named as its owner until a controller names it). */
export function templatePod(owner: { metadata: { name: string; namespace: string } }, template: PodTemplateSpec): Pod {
  return withDefaults({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: owner.metadata.name,
      namespace: owner.metadata.namespace,
      ...(template.metadata.labels ? { labels: template.metadata.labels } : {}),
      ...(template.metadata.annotations ? { annotations: template.metadata.annotations } : {}),
    },
    spec: template.spec,
  } as DecodedPod);
}

/**
 * Checks a template as the API server checks a pod (validation.ts crossChecks, with the ConfigMaps
 * and Secrets given with it), so a template no pod could be made of is refused at `run`, naming
 * its field under spec.template.
 */
export function checkTemplate(pod: Pod, where: string, label: string, context: WorkloadContext): void {
  for (const p of crossChecks({ pod, original: pod, ...context }))
    throw fieldError(where, label, { ...p, path: `spec.template.${p.path}` });
}

/** What a controller sets on a pod it makes from its template. */
export interface PodMeta {
  /** metadata.generateName: the name is it plus 5 random characters (Ids.suffix) */
  generateName: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/**
 * A pod of the workload: the template with its name, uid, labels, annotations and the owner
 * reference to its controller (pkg/controller/controller_utils.go GetPodFromTemplate).
 */
export function podFromTemplate(owner: WorkloadObject, template: Pod, meta: PodMeta, ids: Ids): Pod {
  const labels = { ...template.metadata.labels, ...meta.labels };
  const annotations = { ...template.metadata.annotations, ...meta.annotations };
  return {
    ...template,
    metadata: {
      ...template.metadata,
      name: meta.generateName + ids.suffix(),
      generateName: meta.generateName,
      uid: ids.uid(),
      ...(Object.keys(labels).length ? { labels } : {}),
      ...(Object.keys(annotations).length ? { annotations } : {}),
      ownerReferences: [
        {
          apiVersion: owner.apiVersion,
          kind: owner.kind,
          name: owner.metadata.name,
          uid: owner.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
  };
}

/** The uid of the workload that controls a pod (its controller ownerReference), if any. */
export function controllerUid(pod: Pod): string | undefined {
  const refs = pod.metadata.ownerReferences;
  if (!Array.isArray(refs)) return undefined;
  const ref = refs.find(
    (r): r is { uid: string } => !!r && typeof r === 'object' && (r as { controller?: unknown }).controller === true,
  );
  return typeof ref?.uid === 'string' ? ref.uid : undefined;
}

/** names.SimpleNameGenerator's alphabet: no vowels, no 0/1/3 (k8s.io/apiserver pkg/storage/names/generate.go). */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export const randomIds: Ids = {
  suffix: () => [...randomBytes(5)].map((b) => ALPHABET[b % ALPHABET.length]).join(''),
  uid: () => randomUUID(),
};
