import { withDefaults } from '../api/manifest.js';
import type { DecodedPod, Manifest, Pod, Volume } from '../api/types.js';
import { crossChecks } from '../api/validation.js';
import { PodboxError } from '../errors.js';
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

/**
 * The API server's cross-field rules for a template (ValidatePodTemplateSpec runs the pod's own),
 * with the ConfigMaps, Secrets and claims of the same file, so a bad reference is refused when the
 * file is read rather than when a pod is made. The first problem is thrown, its path under
 * spec.template as the API server writes it: `web.yaml: deployment "web" is invalid: spec.template.spec...`.
 */
export function checkTemplate(
  template: PodTemplate,
  refs: Omit<Manifest, 'pod' | 'original'>,
  where: string,
  label: string,
): void {
  const pod = podFromTemplate(template, {
    name: 'template',
    namespace: template.metadata.namespace,
    owner: controllerRef('Template', 'template', ''),
  });
  for (const p of crossChecks({ ...refs, pod, original: undefined })) {
    // A pod's metadata is the controller's to fill in: only spec problems are the template's.
    if (!p.path.startsWith('spec.')) continue;
    const path = `spec.template.${p.path}`;
    if (p.unsupported) throw new PodboxError('UnsupportedField', `${where}: ${label}: ${path}: ${p.message}`);
    throw new PodboxError('InvalidManifest', `${where}: ${label} is invalid: ${path}: ${p.message}`, p.hint);
  }
}
