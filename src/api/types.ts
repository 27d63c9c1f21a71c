import type { z } from 'zod';
import type * as schema from './schema.js';

/**
 * The subset of the Kubernetes core/v1 Pod API that podbox understands, in Kubernetes' own shape
 * and field names (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/).
 * Every type is the output of the schema that decodes it (schema.ts), so the two cannot drift.
 * A validated Pod has every defaulted field filled in as the API server would
 * (pkg/apis/core/v1/defaults.go), so the rest of podbox never re-derives a default: the schema's
 * own defaults, plus what depends on other fields (manifest.ts withDefaults): the name from
 * generateName, the uid, and each container's imagePullPolicy.
 */

/** A Pod as the schema decodes it, before the defaults that depend on other fields. */
export type DecodedPod = z.output<typeof schema.pod>;
type DecodedContainer = z.output<typeof schema.container>;

export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';
export type Container = DecodedContainer & { imagePullPolicy: PullPolicy };
export type PodSpec = Omit<DecodedPod['spec'], 'containers' | 'initContainers'> & {
  containers: Container[];
  initContainers?: Container[];
};
export type ObjectMeta = DecodedPod['metadata'] & { name: string };
export interface Pod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: ObjectMeta;
  spec: PodSpec;
}

export type Probe = z.output<typeof schema.probe>;
export type LifecycleHandler = z.output<typeof schema.lifecycleHandler>;
export type ExecAction = z.output<typeof schema.execAction>;
export type HTTPGetAction = z.output<typeof schema.httpGet>;
export type GRPCAction = z.output<typeof schema.grpc>;
export type Volume = z.output<typeof schema.volume>;
/** A ConfigMap or Secret given next to the pod in a multi-document file. */
export type ConfigMap = z.output<typeof schema.configMap>;
export type Secret = z.output<typeof schema.secret>;
/** A PersistentVolumeClaim given next to the pod (volume/claim.ts). */
export type PersistentVolumeClaim = z.output<typeof schema.persistentVolumeClaim>;

/** What `podbox run FILE` works from: the pod (validated and defaulted) and what it refers to. */
export interface Manifest {
  pod: Pod;
  /** The pod object exactly as the user wrote it, for `get -o json|yaml`. */
  original: unknown;
  configMaps: Map<string, ConfigMap>;
  secrets: Map<string, Secret>;
  /** PersistentVolumeClaims given with the pod, by name */
  claims?: Map<string, PersistentVolumeClaim>;
}
