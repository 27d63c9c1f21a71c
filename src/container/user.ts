import type { Container, Pod } from '../api/types.js';
import { podRef, type ContainerConfigReason } from '../lifecycle/pod-machine.js';

/**
 * Which user a container's process runs as: the image's USER resolved in its own /etc/passwd and
 * /etc/group, then the pod's and the container's securityContext
 * (https://kubernetes.io/docs/tasks/configure-pod-container/security-context/). Pure: the caller
 * reads the image's files.
 */

/** The image files and config the user is resolved against. */
export interface ImageUserFiles {
  /** the image config's User ("uid", "uid:gid", "name", "name:group") */
  user: string | undefined;
  passwd: string;
  group: string;
}

/**
 * The user a container runs as, or why the container cannot be made: runAsUser/runAsGroup
 * (container over pod), fsGroup and supplementalGroups as extra groups, the image's groups for the
 * user unless supplementalGroupsPolicy is Strict. runAsNonRoot is checked
 * first, against runAsUser or else the image's USER, before any name is looked up, as the kubelet
 * does (kuberuntime_container.go generateContainerConfig → security_context_others.go
 * verifyRunAsNonRoot, with the image's user as getImageUser reads it): a violation is a
 * CreateContainerConfigError with the kubelet's message. A name the image's files lack is found
 * by the runtime when it creates the container (containerd's WithUser...): CreateContainerError.
 */
export function processUser(pod: Pod, c: Container, image: ImageUserFiles): ProcessUser | UserRefusal {
  const podSc = pod.spec.securityContext;
  const sc = { ...podSc, ...c.securityContext };
  const nonRoot = verifyRunAsNonRoot(pod, c, sc, image.user);
  if (nonRoot) return { reason: 'CreateContainerConfigError', message: nonRoot };
  // The kubelet adds the fsGroup to every container's groups, before supplementalGroups
  // (security_context.go determineEffectiveSecurityContext).
  const fsGroup = podSc.fsGroup !== undefined ? [podSc.fsGroup] : [];
  const user = resolveUser(image.user, image.passwd, image.group, {
    runAsUser: sc.runAsUser,
    runAsGroup: sc.runAsGroup,
    supplementalGroups: [...fsGroup, ...(podSc.supplementalGroups ?? [])],
    imageGroups: podSc.supplementalGroupsPolicy !== 'Strict',
  });
  if (typeof user === 'string') return { reason: 'CreateContainerError', message: user };
  return user;
}

/** Why a container cannot be made, in the kubelet's terms. */
export interface UserRefusal {
  reason: ContainerConfigReason;
  message: string;
}

/** The kubelet's verifyRunAsNonRoot: undefined when the container may run. */
function verifyRunAsNonRoot(
  pod: Pod,
  c: Container,
  sc: { runAsNonRoot?: boolean; runAsUser?: number },
  imageUser: string | undefined,
): string | undefined {
  if (!sc.runAsNonRoot) return undefined;
  const where = `(pod: ${JSON.stringify(podRef(pod))}, container: ${c.name})`;
  if (sc.runAsUser !== undefined) {
    return sc.runAsUser === 0 ? `container's runAsUser breaks non-root policy ${where}` : undefined;
  }
  // getImageUser: "uid" or "uid:gid" is a uid, any other user a name; no user at all is root.
  const user = (imageUser ?? '').split(':')[0]!;
  if (user === '' || /^\d+$/.test(user)) {
    return Number(user || 0) === 0 ? `container has runAsNonRoot and image will run as root ${where}` : undefined;
  }
  return `container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root ${where}`;
}

export interface ProcessUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

/**
 * The user as the kubelet and containerd make it (the image's USER resolved in its own /etc/passwd
 * and /etc/group, then runAsUser/runAsGroup):
 *  1. the user is runAsUser, else the image's USER without its group part: the kubelet passes only
 *     the image's uid or name (security_context.go determineEffectiveSecurityContext), so an image's
 *     `USER 1000:50` runs with group 50 under docker but not on Kubernetes (kubernetes#61967,
 *     containerd#11607);
 *  2. a uid takes its group from /etc/passwd, or 0 when it has no entry; a name must have one;
 *  3. runAsGroup replaces the group;
 *  4. groups: the primary group itself (containerd oci ensureAdditionalGids), the groups of
 *     /etc/group that list the user's name (WithAdditionalGIDs; not under supplementalGroupsPolicy
 *     Strict: container_create_linux.go), then fsGroup and supplementalGroups (WithSupplementalGroups),
 *     sorted, each once.
 * Returns an error string for a name the image does not know.
 */
export function resolveUser(
  imageUser: string | undefined,
  passwd: string,
  group: string,
  sc: { runAsUser?: number; runAsGroup?: number; supplementalGroups?: number[]; imageGroups?: boolean },
): ProcessUser | string {
  const passwdEntries = passwd
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 4);
  const groupEntries = group
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 3);
  // Step 1: the user; the image's group part, if any, is dropped.
  const u = sc.runAsUser !== undefined ? String(sc.runAsUser) : (imageUser || '').split(':')[0]!;
  // Step 2: its uid, group and name.
  let uid = 0,
    gid = 0,
    userName: string | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const e = passwdEntries.find((f) => Number(f[2]) === uid);
    gid = e ? Number(e[3]) : 0;
    userName = e?.[0];
  } else if (u) {
    const e = passwdEntries.find((f) => f[0] === u);
    if (!e) return `user "${u}" is not in the image's /etc/passwd`;
    uid = Number(e[2]);
    gid = Number(e[3]);
    userName = u;
  }
  // Step 3.
  if (sc.runAsGroup !== undefined) gid = sc.runAsGroup;
  // Step 4.
  const groups = new Set<number>([gid]);
  if (userName && sc.imageGroups !== false) {
    for (const e of groupEntries) {
      if (e[0] !== userName && (e[3] || '').split(',').includes(userName)) groups.add(Number(e[2]));
    }
  }
  for (const s of sc.supplementalGroups ?? []) groups.add(s);
  return { uid, gid, additionalGids: [...groups].sort((a, b) => a - b) };
}
