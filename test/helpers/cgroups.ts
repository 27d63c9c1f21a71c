import { accessSync, constants, existsSync, readFileSync } from 'node:fs';

/**
 * Where the tests expect a pod's cgroups, read apart from podbox's own code (cgroup/where.ts,
 * layout.ts): as root the top of each v1 hierarchy; rootless /podbox-UID, which
 * scripts/delegate-cgroups.sh makes (CI's .ci/run runs it; podbox finds it by itself, so no
 * variable needs to reach the tests). Without it the test fails saying so: never skipped.
 */
const ROOT = '/sys/fs/cgroup';

export function testCgroupParent(): string {
  const uid = process.getuid!();
  if (uid === 0) return '';
  const parent = `/podbox-${uid}`;
  try {
    accessSync(`${ROOT}/memory${parent}`, constants.W_OK);
  } catch {
    throw new Error(
      `no cgroup is delegated to uid ${uid} (${ROOT}/memory${parent}): run \`sudo scripts/delegate-cgroups.sh ` +
        `${process.env.USER ?? uid}\` first (as .ci/run does)`,
    );
  }
  return parent;
}

/** A pod's cgroup directory in a v1 controller's hierarchy (the kubelet's cgroupfs layout). */
export function podCgroupDir(controller: string, qos: 'Guaranteed' | 'Burstable' | 'BestEffort', uid: string): string {
  const level = qos === 'Guaranteed' ? '' : `/${qos.toLowerCase()}`;
  return `${ROOT}/${controller}${testCgroupParent()}/kubepods${level}/pod${uid}`;
}

export function readCgroupFile(dir: string, file: string): string {
  return readFileSync(`${dir}/${file}`, 'utf8').trim();
}

/** Whether a pod's cgroup is left in any of the controllers podbox writes. */
export function podCgroupLeft(qos: 'Guaranteed' | 'Burstable' | 'BestEffort', uid: string): string[] {
  return ['cpu', 'cpuacct', 'memory', 'pids', 'cpuset', 'freezer', 'unified']
    .map((c) => podCgroupDir(c, qos, uid))
    .filter((d) => existsSync(d));
}
