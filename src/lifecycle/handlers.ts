import type { LifecycleHandler, Probe } from '../api/types.js';
import { goDuration } from './timing.js';
import { errorText, goQuote } from './handlers/text.js';
import { connect } from './handlers/dial.js';
import { resolveProbePort } from './handlers/ports.js';
import { httpHook, httpProbe } from './handlers/http.js';
import { grpcProbe } from './handlers/grpc.js';
import { execHook, execProbe } from './handlers/exec.js';
import type { HandlerResult, HandlerTarget } from './handlers/types.js';

/**
 * Runs Kubernetes probe and lifecycle-hook handlers the way the kubelet's prober does
 * (pkg/kubelet/prober/prober.go runProbe, pkg/kubelet/lifecycle/handlers.go Run): from the host,
 * with nothing needed inside the image. httpGet, tcpSocket and grpc connect from inside the pod's
 * network namespace (a socket made there by the native addon), so an app that binds only
 * 127.0.0.1 in its pod is reachable, as it is from a kubelet dialling the pod IP. exec runs under
 * `runc exec` in the container. Messages are the kubelet's, so events read as in Kubernetes.
 * When to run a handler, and what a result means for the container, is the pod state machine's.
 */

// One module per handler under handlers/; what callers and tests use is exported from here.
export type { Dial, HandlerResult, HandlerTarget } from './handlers/types.js';
export { KUBE_VERSION, MAX_OUTPUT, goQuote } from './handlers/text.js';
export { joinHostPort, podDial } from './handlers/dial.js';
export { resolveHookPort, resolveProbePort } from './handlers/ports.js';
export { canonicalHeaderName, probeHeaders, probeURL } from './handlers/http.js';
export { decodeHealthCheckResponse, encodeHealthCheckRequest, grpcCodeName, servingStatusName } from './handlers/grpc.js';

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
export async function runHook(h: LifecycleHandler, t: HandlerTarget, timeoutSeconds: number, signal?: AbortSignal): Promise<HandlerResult> {
  const timeoutMs = timeoutSeconds * 1000;
  try {
    if (h.exec) return await execHook(h.exec, t, timeoutMs);
    if (h.httpGet) return await httpHook(h.httpGet, t, timeoutMs);
    if (h.sleep) return await sleepHook(h.sleep.seconds, timeoutMs, signal);
    // tcpSocket is accepted in the API for compatibility but the kubelet never runs it.
    return { ok: false, message: `Cannot run handler: invalid handler: ${h.tcpSocket ? 'tcpSocket is not supported as a lifecycle handler' : 'no handler'}` };
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
  if (h.exec) return `Exec lifecycle hook ([${h.exec.command.join(' ')}]) ${where}, message: ${goQuote(r.output ?? '')}`;
  if (h.httpGet) return `HTTP lifecycle hook (${h.httpGet.path}) ${where}`;
  if (h.sleep) return `Sleep lifecycle hook (${h.sleep.seconds}) ${where}`;
  return r.message;
}

// ---------------------------------------------------------------------------------------------
// tcpSocket

/** pkg/probe/tcp/tcp.go: success is a connection made within the timeout; it is closed at once. */
async function tcpProbe(host: string, port: number, t: HandlerTarget, timeoutMs: number): Promise<HandlerResult> {
  try {
    const s = await connect(t, host, port, Date.now() + timeoutMs);
    s.destroy();
    return { ok: true, message: '' };
  } catch (e) {
    return { ok: false, message: errorText(e) };
  }
}

// ---------------------------------------------------------------------------------------------
// sleep

/** handlers.go runSleepHandler: waits, unless the container ends first (`signal`). */
function sleepHook(seconds: number, timeoutMs: number, signal?: AbortSignal): Promise<HandlerResult> {
  const ended = { ok: false, message: 'container terminated before sleep hook finished' };
  if (signal?.aborted) return Promise.resolve(ended);
  return new Promise((resolve) => {
    const cut = timeoutMs < seconds * 1000;
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(cut ? { ok: false, message: `sleep hook did not finish within ${goDuration(timeoutMs / 1000)}` } : { ok: true, message: '' });
    }, Math.min(seconds * 1000, timeoutMs));
    const onAbort = () => {
      clearTimeout(timer);
      resolve(ended);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
