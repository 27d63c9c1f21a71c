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
] as const;
