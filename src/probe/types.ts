import type net from 'node:net';
import type { Runc } from '../container/runc.js';
import type { Container } from '../api/types.js';

/** The shapes every handler shares: what it runs against (the pod, the container) and what it reports. */

/** Opens a TCP connection to ip:port (an IP literal); the socket may still be connecting. */
export type Dial = (ip: string, port: number) => net.Socket;

export interface HandlerTarget {
  /** host pid of the pod's pause process (its network namespace is the pod's) */
  pausePid: number;
  /** runc of the pod, for exec handlers */
  runc: Runc;
  /** runc container id, e.g. "web.0" */
  containerId: string;
  /** the container's spec: named ports, env for `$(VAR)` in probe commands */
  container: Container;
  /** the pod IP: the host of httpGet and tcpSocket when they name none, and of grpc */
  podIP: string;
  /** where TCP connections come from; the default opens them in the pod (tests point it elsewhere) */
  dial?: Dial;
}

export interface HandlerResult {
  ok: boolean;
  /**
   * What the kubelet reports: for a probe the prober's output (on failure the text of the
   * `Liveness probe failed: …` event; on success the body, command output or "service healthy"),
   * for a hook its error (the state machine wraps it with hookFailureMessage).
   */
  message: string;
  /** response body (up to 10 KiB) or command output (stdout then stderr, up to 10 KiB) */
  output?: string;
  /** succeeded with a warning the kubelet makes an event of (ProbeWarning, LifecycleHTTPFallback) */
  warning?: boolean;
}
