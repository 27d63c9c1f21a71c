import { goDurationMs } from '../kubectl/duration.js';
import type { BackoffPolicy } from './timing.js';

/**
 * The kubelet's image pulls, as pkg/kubelet/images/image_manager.go EnsureImageExists decides them,
 * in pure functions the pod machine (pod-machine.ts) calls: the pull policy, the image back-off
 * (kubelet.go imageBackOff = flowcontrol.NewBackOff(backOffPeriod 10 s, MaxContainerBackOff 300 s),
 * keyed by pod UID and image, so per image within a pod), and the events' and statuses' words
 * (pkg/kubelet/events/event.go, pkg/kubelet/images/types.go).
 */

/** An image in the local store: its id (to start a container from) and the status's imageID. */
export interface LocalImage {
  id: string;
  imageID: string;
}

/** Looks an image reference up in the local store (injected into the machine, as its clock is). */
export type ImageLookup = (ref: string) => LocalImage | undefined;

/** The waiting reasons of pkg/kubelet/images/types.go. */
export const ERR_IMAGE_PULL = 'ErrImagePull';
export const IMAGE_PULL_BACK_OFF = 'ImagePullBackOff';
export const ERR_IMAGE_NEVER_PULL = 'ErrImageNeverPull';

/** One image's pulls in a pod: flowcontrol.Backoff's entry, and the pull under way. */
export interface ImagePull {
  /** the current back-off; 0 before the first failure */
  backoffSeconds: number;
  /** when the back-off was last moved (the last failure), ms */
  lastUpdate: number;
  /** when the pull under way began (its Pulling event), ms; absent when none is under way */
  startedAt?: number;
}

/** image_manager.go shouldPullImage. */
export function shouldPull(policy: 'Always' | 'IfNotPresent' | 'Never', present: boolean): boolean {
  return policy === 'Always' || (policy === 'IfNotPresent' && !present);
}

/** flowcontrol.Backoff.IsInBackOffSinceUpdate: less than the back-off has passed since the last failure. */
export function inBackoff(p: ImagePull | undefined, now: number): boolean {
  return p !== undefined && p.backoffSeconds > 0 && now - p.lastUpdate < p.backoffSeconds * 1000;
}

/**
 * flowcontrol.Backoff.Next, at a failure: the first (or the first after an entry expired, i.e.
 * twice the maximum passed since the last failure) waits the initial period, every next one
 * twice the last, up to the maximum.
 */
export function failedAt(p: ImagePull, now: number, policy: BackoffPolicy): void {
  const expired = now - p.lastUpdate > 2 * policy.maxSeconds * 1000;
  p.backoffSeconds =
    p.backoffSeconds === 0 || expired ? policy.initialSeconds : Math.min(p.backoffSeconds * 2, policy.maxSeconds);
  p.lastUpdate = now;
  delete p.startedAt;
}

/**
 * When a container waiting on its image is looked at again. The kubelet syncs a pod again soon
 * after a sync that failed (the PLEG relist, every second, sees the sandbox's changes; the pod
 * worker requeues a failed sync after backOffPeriod, 10 s, pod_workers.go completeWork), and each
 * sync re-checks the image: present now (loaded meanwhile)? back-off over? So: 1 s after a
 * failure, then every 10 s, and at the end of the back-off; all scaled with the back-off's
 * initial period (PODBOX_TESTING_BACKOFF shortens them together).
 */
export function nextImageSync(policy: BackoffPolicy, now: number, justFailed: boolean, p?: ImagePull): number {
  const scale = policy.initialSeconds / 10;
  const next = now + (justFailed ? 1 : 10) * scale * 1000;
  return inBackoff(p, now) ? Math.min(next, p!.lastUpdate + p!.backoffSeconds * 1000) : next;
}

/** The kubelet's event and status words for an image (image_manager.go, kuberuntime_container.go). */
export const imageWords = {
  present: (image: string) => `Container image "${image}" already present on machine`,
  neverPull: (image: string) => `Container image "${image}" is not present with pull policy of Never`,
  pulling: (image: string) => `Pulling image "${image}"`,
  backOff: (image: string) => `Back-off pulling image "${image}"`,
  failed: (image: string, error: string) => `Failed to pull image "${image}": ${error}`,
  /** kuberuntime_container.go startContainer: "Error: %v" of EnsureImageExists' error */
  error: (reason: string) => `Error: ${reason}`,
  /** pullMs: the pull itself; totalMs: since its Pulling event, waiting included; both truncated to ms */
  pulled: (image: string, pullMs: number, totalMs: number, size: number) =>
    `Successfully pulled image "${image}" in ${goDurationMs(pullMs)} (${goDurationMs(totalMs)} including waiting). ` +
    `Image size: ${size} bytes.`,
};
