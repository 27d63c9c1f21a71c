/**
 * The kubelet's timing constants, in one place.
 *
 * CrashLoopBackOff: the first restart is immediate, then 10 s, 20 s, 40 s ... capped at 300 s, and
 * the back-off resets once a container has run 10 minutes without trouble
 * (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts;
 * pkg/kubelet/kubelet.go backOffPeriod / MaxContainerBackOff).
 *
 * Testing knob: PODBOX_TESTING_BACKOFF="INITIAL,MAX,RESET" (seconds, decimals allowed) shortens
 * them so integration tests can watch a crash loop in seconds. Never set it for real use.
 */
export interface BackoffPolicy {
  initialSeconds: number;
  maxSeconds: number;
  resetAfterSeconds: number;
}

export const KUBELET_BACKOFF: BackoffPolicy = { initialSeconds: 10, maxSeconds: 300, resetAfterSeconds: 600 };

export function backoffPolicy(env: NodeJS.ProcessEnv = process.env): BackoffPolicy {
  const knob = env.PODBOX_TESTING_BACKOFF;
  if (!knob) return KUBELET_BACKOFF;
  const [initial, max, reset] = knob.split(',').map(Number);
  if (![initial, max, reset].every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0))
    return KUBELET_BACKOFF;
  return { initialSeconds: initial!, maxSeconds: max!, resetAfterSeconds: reset! };
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * The kubelet's minimumGracePeriodInSeconds (kuberuntime_container.go): a preStop hook that used
 * up the grace period still leaves the container this long to stop before SIGKILL.
 */
export const MINIMUM_GRACE_PERIOD_SECONDS = 2;
