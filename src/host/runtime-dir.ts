/**
 * What a logout does to pods. On systemd machines the user's runtime directory /run/user/UID is a
 * tmpfs that systemd-logind removes when the user's last session ends (user-runtime-dir@.service),
 * unless the user lingers (`loginctl enable-linger`, recorded as /var/lib/systemd/linger/USER).
 * Pods keep their state there by default, so a logout takes it from under running pods.
 */
export function lingerFile(user: string): string {
  return `/var/lib/systemd/linger/${user}`;
}

/** Is systemd the init system (sd_booted(3): /run/systemd/system exists)? */
export const SYSTEMD_MARKER = '/run/systemd/system';

/** The warning `podbox doctor` prints when pod state would vanish at logout, or undefined. */
export function logoutWarning(
  host: { systemd: boolean; lingering: boolean },
  podsDir: string,
  uid: number,
  user: string,
): string | undefined {
  const runtime = `/run/user/${uid}`;
  if (!host.systemd || host.lingering || !podsDir.startsWith(`${runtime}/`)) return undefined;
  return (
    `pods keep their state in ${runtime}, which systemd removes when you log out (pods then lose it); ` +
    `to keep pods across logouts: loginctl enable-linger ${user}`
  );
}
