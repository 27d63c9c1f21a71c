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
 * (container over pod), supplementalGroups and fsGroup as extra groups. runAsNonRoot is checked
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
  const fsGroup = podSc.fsGroup !== undefined ? [podSc.fsGroup] : [];
  const user = resolveUser(image.user, image.passwd, image.group, {
    runAsUser: sc.runAsUser,
    runAsGroup: sc.runAsGroup,
    // fsGroup is added to every container's groups.
    supplementalGroups: [...(podSc.supplementalGroups ?? []), ...fsGroup],
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
 * Resolves the image's `User` ("uid", "uid:gid", "name", "name:group") against the image's
 * /etc/passwd and /etc/group text, then applies runAsUser/runAsGroup (container over pod).
 * Returns an error string for a name the image does not know.
 */
export function resolveUser(
  imageUser: string | undefined,
  passwd: string,
  group: string,
  sc: { runAsUser?: number; runAsGroup?: number; supplementalGroups?: number[] },
): ProcessUser | string {
  let uid = 0,
    gid = 0,
    userName: string | undefined;
  let gidFromSpec = false;
  const [u, g] = (imageUser || '').split(':');
  const passwdEntries = passwd
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 4);
  const groupEntries = group
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 3);
  const byUid = (id: number) => passwdEntries.find((f) => Number(f[2]) === id);
  if (sc.runAsUser !== undefined) {
    uid = sc.runAsUser;
    const e = byUid(uid);
    gid = e ? Number(e[3]) : 0;
    userName = e?.[0];
  } else if (u) {
    if (/^\d+$/.test(u)) {
      uid = Number(u);
      const e = byUid(uid);
      gid = e ? Number(e[3]) : 0;
      userName = e?.[0];
    } else {
      const e = passwdEntries.find((f) => f[0] === u);
      if (!e) return `user "${u}" is not in the image's /etc/passwd`;
      uid = Number(e[2]);
      gid = Number(e[3]);
      userName = u;
    }
  }
  if (g && sc.runAsUser === undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const e = groupEntries.find((f) => f[0] === g);
      if (!e) return `group "${g}" is not in the image's /etc/group`;
      gid = Number(e[2]);
    }
    gidFromSpec = true;
  }
  if (sc.runAsGroup !== undefined) {
    gid = sc.runAsGroup;
    gidFromSpec = true;
  }
  const additional = new Set<number>();
  if (userName && !gidFromSpec) {
    for (const e of groupEntries) if ((e[3] || '').split(',').includes(userName)) additional.add(Number(e[2]));
  }
  for (const s of sc.supplementalGroups ?? []) additional.add(s);
  additional.delete(gid);
  return { uid, gid, additionalGids: [...additional].sort((a, b) => a - b) };
}
