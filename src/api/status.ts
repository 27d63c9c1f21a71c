/** The Kubernetes PodStatus podbox reports (core/v1 PodStatus, ContainerStatus, Event). */

export type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | {
      terminated: {
        exitCode: number;
        signal?: number;
        reason: string;
        message?: string;
        startedAt?: string;
        finishedAt: string;
        containerID?: string;
      };
    };

export interface ContainerStatus {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  ready: boolean;
  started: boolean;
  restartCount: number;
  state: ContainerState;
  lastState: Partial<ContainerState>;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface PodCondition {
  type: 'PodScheduled' | 'Initialized' | 'ContainersReady' | 'Ready';
  observedGeneration?: number;
  status: 'True' | 'False';
  reason?: string;
  message?: string;
  lastProbeTime: null;
  lastTransitionTime: string;
}

export interface PodStatus {
  observedGeneration?: number;
  phase: PodPhase;
  reason?: string;
  message?: string;
  conditions: PodCondition[];
  hostIP: string;
  hostIPs?: { ip: string }[];
  podIP?: string;
  podIPs?: { ip: string }[];
  startTime?: string;
  initContainerStatuses?: ContainerStatus[];
  containerStatuses: ContainerStatus[];
  qosClass: 'BestEffort' | 'Burstable' | 'Guaranteed';
}

export interface PodEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** e.g. spec.containers{web} as kubectl describe shows it */
  fieldPath?: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
}

/**
 * metadata.generation of every pod: the API server sets 1 on create and podbox never changes a
 * pod's spec. The kubelet reports the generation it acted on as status.observedGeneration and in
 * each condition (Kubernetes 1.34, PodObservedGenerationTracking).
 */
export const POD_GENERATION = 1;

export const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
