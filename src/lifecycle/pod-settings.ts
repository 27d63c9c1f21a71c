/**
 * PODBOX_* settings a pod takes from the command that made it, not from the environment of the
 * user's supervisor (which the first command of a session started): each pod keeps its own.
 */
export const POD_SETTINGS = [
  'PODBOX_TESTING_BACKOFF',
  'PODBOX_CONTAINER_LOG_MAX_SIZE',
  'PODBOX_CONTAINER_LOG_MAX_FILES',
  'PODBOX_INSECURE_REGISTRIES',
  'PODBOX_TESTING_RESOLV_CONF',
  'PODBOX_TESTING_DNS_PORT',
  'PODBOX_NETWORK',
  'PODBOX_TUN_DEVICE',
  'PODBOX_CGROUP_PARENT',
  'PODBOX_POD_PIDS_LIMIT',
  // workload/host.ts: a Job's pod-failure backoff, shortened for tests
  'PODBOX_TESTING_JOB_BACKOFF',
] as const;

/** The POD_SETTINGS this command's environment sets, to go with a pod it makes. */
export function podSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(POD_SETTINGS.flatMap((k) => (env[k] ? [[k, env[k]]] : [])));
}
