/**
 * The node podbox presents itself as. A pod is "scheduled" to it (the Scheduled event, `get -o wide`,
 * `spec.nodeName` in the downward API), and its addresses are the pod's and the host's.
 */

/** The node name everywhere a Kubernetes node name appears. */
export const NODE_NAME = 'podbox';

/** The pod has no network but loopback yet: its IP, and the host's as the pod sees it, are 127.0.0.1. */
export const POD_IP = '127.0.0.1';
export const HOST_IP = '127.0.0.1';

/** The node's allocatable resources: what a limit left out stands for (see resource-field.ts). */
export interface NodeAllocatable {
  /** cores */
  cpu: number;
  /** bytes */
  memory: number;
  /** bytes of the filesystem podbox keeps pods on */
  ephemeralStorage: number;
}
