/**
 * A pod the node will not run, as the kubelet refuses one at admission: its predicate admit handler
 * (pkg/kubelet/lifecycle/predicate.go Admit) names the first failed predicate, and rejectPod
 * (pkg/kubelet/kubelet.go) records a Warning event with that reason and message and sets the pod
 * Failed, with the same reason and "Pod was rejected: " before the message. No sandbox is made.
 *
 * On one machine the only predicate that can fail is NodePorts: a hostPort another pod publishes
 * (the scheduler's nodeports plugin, which the kubelet runs again at admission).
 */
export class PodRejected extends Error {
  constructor(
    /** the predicate's name: the event's and the status's reason */
    readonly reason: string,
    /** the kubelet's message (predicate.go PredicateFailureError.Error) */
    readonly predicateMessage: string,
    /** what podbox knows beyond it (which pod holds the port), for the command line */
    readonly detail: string,
    readonly hint: string,
  ) {
    super(`${REJECTED_PREFIX}${predicateMessage} (${detail})`);
  }
}

/** kubelet.go rejectPod: the pod's status message is the admit result's message after this. */
export const REJECTED_PREFIX = 'Pod was rejected: ';

/** The scheduler's nodeports plugin: its name and its reason (plugins/nodeports/node_ports.go ErrReason). */
const NODE_PORTS = 'NodePorts';
const NODE_PORTS_REASON = "node(s) didn't have free ports for the requested pod ports";

/** A hostPort taken by another pod: the NodePorts predicate failed. */
export function nodePortsRejection(detail: string, hint: string): PodRejected {
  return new PodRejected(NODE_PORTS, `Predicate ${NODE_PORTS} failed: ${NODE_PORTS_REASON}`, detail, hint);
}
