import { withDefaults } from '../api/manifest.js';
import type { DecodedPod, Pod, Volume } from '../api/types.js';
import type { PodTemplate } from './apps-schema.js';

/** metav1.OwnerReference as a controller sets it on what it creates (metav1.NewControllerRef). */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: true;
  blockOwnerDeletion: true;
}

export function controllerRef(kind: string, name: string, uid: string): OwnerReference {
  return { apiVersion: 'apps/v1', kind, name, uid, controller: true, blockOwnerDeletion: true };
}

export interface PodIdentity {
  name: string;
  namespace: string;
  owner: OwnerReference;
  /** labels added to the template's (pod-template-hash, statefulset.kubernetes.io/pod-name...) */
  labels?: Record<string, string>;
  hostname?: string;
  subdomain?: string;
  /** volumes added to (or replacing, by name) the template's: a StatefulSet's claims */
  volumes?: Volume[];
  /** fields a controller adds to the spec (a DaemonSet's affinity and tolerations) */
  spec?: Partial<Pod['spec']>;
}

/**
 * The pod a controller creates from its template (controller_utils.go GetPodFromTemplate): the
 * template's labels, annotations and spec, a name, the controller's ownerReference
 * (controller: true, blockOwnerDeletion: true), then the API server's create-time defaults
 * (api/manifest.ts withDefaults: uid, imagePullPolicy).
 */
export function podFromTemplate(template: PodTemplate, id: PodIdentity): Pod {
  const { labels, annotations } = template.metadata;
  const spec = { ...template.spec, ...id.spec };
  if (id.hostname !== undefined) spec.hostname = id.hostname;
  if (id.subdomain) spec.subdomain = id.subdomain;
  if (id.volumes?.length) {
    const added = new Set(id.volumes.map((v) => v.name));
    spec.volumes = [...(spec.volumes ?? []).filter((v) => !added.has(v.name)), ...id.volumes];
  }
  const decoded: DecodedPod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: id.name,
      namespace: id.namespace,
      labels: { ...labels, ...id.labels },
      ...(annotations ? { annotations: { ...annotations } } : {}),
      ownerReferences: [id.owner],
    },
    spec: structuredClone(spec) as DecodedPod['spec'],
  };
  return withDefaults(decoded);
}
