import type { Container, Pod } from '../api/types.js';

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
 * The user a container runs as, or the reason it cannot run (CreateContainerConfigError):
 * runAsUser/runAsGroup (container over pod), supplementalGroups and fsGroup as extra groups,
 * and runAsNonRoot checked against the result (the kubelet's verifyRunAsNonRoot).
 */
export function processUser(pod: Pod, c: Container, image: ImageUserFiles): ProcessUser | string {
  const podSc = pod.spec.securityContext;
  const sc = { ...podSc, ...c.securityContext };
  const fsGroup = podSc.fsGroup !== undefined ? [podSc.fsGroup] : [];
  const user = resolveUser(image.user, image.passwd, image.group, {
    runAsUser: sc.runAsUser,
    runAsGroup: sc.runAsGroup,
    // fsGroup is added to every container's groups.
    supplementalGroups: [...(podSc.supplementalGroups ?? []), ...fsGroup],
  });
  if (typeof user === 'string') return user;
  if (sc.runAsNonRoot && user.uid === 0) return 'runAsNonRoot is set but the image runs as root (uid 0)';
  return user;
}

export interface ProcessUser { uid: number; gid: number; additionalGids: number[] }

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
  let uid = 0, gid = 0, userName: string | undefined;
  let gidFromSpec = false;
  const [u, g] = (imageUser || '').split(':');
  const passwdEntries = passwd.split('\n').map((l) => l.split(':')).filter((f) => f.length >= 4);
  const groupEntries = group.split('\n').map((l) => l.split(':')).filter((f) => f.length >= 3);
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
