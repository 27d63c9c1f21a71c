import type { LifecycleHandler, Probe } from '../api/types.js';
import { errorText } from './text.js';
import { goQuote } from '../kubectl/quote.js';
import { tcpProbe } from './tcp.js';
import { sleepHook } from './sleep.js';
import { resolveProbePort } from './ports.js';
import { httpHook, httpProbe } from './http.js';
import { grpcProbe } from './grpc.js';
import { execHook, execProbe } from './exec.js';
import type { HandlerResult, HandlerTarget } from './types.js';

/**
 * Runs Kubernetes probe and lifecycle-hook handlers the way the kubelet's prober does
 * (pkg/kubelet/prober/prober.go runProbe, pkg/kubelet/lifecycle/handlers.go Run): from the host,
 * with nothing needed inside the image. httpGet, tcpSocket and grpc connect from inside the pod's
 * network namespace (a socket made there by the native addon), so an app that binds only
 * 127.0.0.1 in its pod is reachable, as it is from a kubelet dialling the pod IP. exec runs under
 * `runc exec` in the container. Messages are the kubelet's, so events read as in Kubernetes.
 * When to run a handler, and what a result means for the container, is the pod state machine's.
 * One file per handler beside this one (http.ts, tcp.ts, grpc.ts, exec.ts, sleep.ts), as the kubelet's
 * prober has one runner per protocol; this file only dispatches.
 */

/** Runs a probe's handler once, within p.timeoutSeconds. Never throws. */
export async function runProbe(p: Probe, t: HandlerTarget): Promise<HandlerResult> {
  const timeoutMs = p.timeoutSeconds * 1000;
  try {
    if (p.exec) return await execProbe(p.exec, t, timeoutMs);
    if (p.httpGet) return await httpProbe(p.httpGet, t, timeoutMs);
    if (p.tcpSocket) {
      const port = resolveProbePort(p.tcpSocket.port, t.container);
      return await tcpProbe(p.tcpSocket.host || t.podIP, port, t, timeoutMs);
    }
    if (p.grpc) return await grpcProbe(p.grpc, t, timeoutMs);
    return { ok: false, message: `missing probe handler for container "${t.container.name}"` };
  } catch (e) {
    // The kubelet's "probe errored" cases (a port it cannot resolve, a body it cannot read).
    return { ok: false, message: errorText(e) };
  }
}

/**
 * Runs a postStart or preStop handler (handlers.go Run), for at most timeoutSeconds (the
 * kubelet bounds preStop by the grace period). `signal` ends a sleep early, as the kubelet's
 * context does when the container terminates first. Never throws.
 */
export async function runHook(
  h: LifecycleHandler,
  t: HandlerTarget,
  timeoutSeconds: number,
  signal?: AbortSignal,
): Promise<HandlerResult> {
  const timeoutMs = timeoutSeconds * 1000;
  try {
    if (h.exec) return await execHook(h.exec, t, timeoutMs);
    if (h.httpGet) return await httpHook(h.httpGet, t, timeoutMs);
    if (h.sleep) return await sleepHook(h.sleep.seconds, timeoutMs, signal);
    // tcpSocket is accepted in the API for compatibility but the kubelet never runs it.
    return {
      ok: false,
      message: `Cannot run handler: invalid handler: ${h.tcpSocket ? 'tcpSocket is not supported as a lifecycle handler' : 'no handler'}`,
    };
  } catch (e) {
    return { ok: false, message: errorText(e) };
  }
}

/**
 * The FailedPostStartHook / FailedPreStopHook event message (handlers.go Run). `pod` is as the
 * kubelet formats it (format.Pod: name_namespace(uid)).
 */
export function hookFailureMessage(h: LifecycleHandler, containerName: string, pod: string, r: HandlerResult): string {
  const where = `for Container ${goQuote(containerName)} in Pod ${goQuote(pod)} failed - error: ${r.message}`;
  if (h.exec)
    return `Exec lifecycle hook ([${h.exec.command.join(' ')}]) ${where}, message: ${goQuote(r.output ?? '')}`;
  if (h.httpGet) return `HTTP lifecycle hook (${h.httpGet.path}) ${where}`;
  if (h.sleep) return `Sleep lifecycle hook (${h.sleep.seconds}) ${where}`;
  return r.message;
}
