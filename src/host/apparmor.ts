import { readFileSync } from 'node:fs';

/**
 * Ubuntu 23.10 and later restrict unprivileged user namespaces through AppArmor: with
 * kernel.apparmor_restrict_unprivileged_userns=1, a process without an AppArmor profile that grants
 * `userns,` may still create one but gets no capabilities in it, so nothing podbox does there (id
 * maps, mounts, runc) works. GitHub's ubuntu-24.04 runners ship with it on.
 */
export const APPARMOR_USERNS_SYSCTL = '/proc/sys/kernel/apparmor_restrict_unprivileged_userns';

/** How to allow them: for everyone (a sysctl), or for node alone (a profile, as Ubuntu ships for browsers). */
export function apparmorUsernsHint(node: string): string {
  return (
    'allow them with `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (kept across boots by that ' +
    'setting in /etc/sysctl.d/60-podbox.conf), or for node alone with an AppArmor profile that grants ' +
    `\`userns,\` to ${node} (see "podbox in CI" in podbox's README)`
  );
}

/**
 * What stands in the way, or undefined: root is not restricted; the restriction is on when the
 * sysctl reads 1 (absent on kernels without it).
 */
export function apparmorUsernsProblem(
  uid: number,
  read: () => string = () => readFileSync(APPARMOR_USERNS_SYSCTL, 'utf8'),
): string | undefined {
  if (uid === 0) return undefined;
  let value: string;
  try {
    value = read().trim();
  } catch {
    return undefined;
  }
  if (value !== '1') return undefined;
  return 'AppArmor restricts unprivileged user namespaces here (kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu 23.10 and later)';
}
