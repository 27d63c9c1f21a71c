import { createHash, randomInt } from 'node:crypto';

/**
 * The names Kubernetes' workload controllers give what they create, and the hash that ties a pod to
 * the template it came from.
 *
 *   Deployment web, template hash 7c5ddbdf54  →  ReplicaSet web-7c5ddbdf54  →  pods web-7c5ddbdf54-x2b4q
 *   ReplicaSet front                          →  pods front-k9w5z
 *   StatefulSet db                            →  pods db-0, db-1, ... (ordinals.start upwards)
 *   DaemonSet agent                           →  pod agent-p7m2c (one per node: this one)
 */

/** apimachinery pkg/util/rand alphanums: no vowels (no words), no 0/1/3 (no look-alikes). */
export const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** FNV-1a, 32 bits (Go's hash/fnv New32a), over `bytes`, continuing from `h`. */
export function fnv32a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** rand.SafeEncodeString: each byte of `s` mapped into SAFE_ALPHABET (byte mod 27). */
export function safeEncodeString(s: string): string {
  return [...Buffer.from(s)].map((b) => SAFE_ALPHABET[b % SAFE_ALPHABET.length]).join('');
}

/** JSON with object keys sorted at every level, so equal objects always give the same bytes. */
export function canonicalJSON(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJSON(x === undefined ? null : x)).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJSON(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The pod-template-hash of a template, as pkg/controller/controller_utils.go ComputeHash makes it:
 * FNV-1a 32 over the template, then the collision count as 4 little-endian bytes when there is one,
 * and the decimal of the sum rendered with SafeEncodeString (so "7c5ddbdf54"-like, digits 4-9 and
 * b,c,d,f only). The bytes hashed differ: Go hashes the object with hashutil.DeepHashObject (a
 * spew dump of the Go struct), which no other language reproduces; podbox hashes the template's
 * canonical JSON. So a hash is stable for podbox (same template, same hash, across runs and
 * restarts) but is not the hash a cluster would give the same template. The StatefulSet and
 * DaemonSet controller-revision-hash (pkg/controller/history/controller_history.go
 * HashControllerRevision) is made the same way.
 */
export function computeHash(template: unknown, collisionCount?: number): string {
  let h = fnv32a(Buffer.from(canonicalJSON(template)));
  if (collisionCount !== undefined) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(collisionCount >>> 0);
    h = fnv32a(b, h);
  }
  return safeEncodeString(String(h));
}

/** Chooses an index below n; tests inject their own for fixed names. */
export type RandomIndex = (n: number) => number;
export const cryptoRandom: RandomIndex = (n) => randomInt(n);

/** utilrand.String(5): what SimpleNameGenerator appends to a generateName. */
export function randomSuffix(random: RandomIndex = cryptoRandom, length = 5): string {
  let s = '';
  for (let i = 0; i < length; i++) s += SAFE_ALPHABET[random(SAFE_ALPHABET.length)];
  return s;
}

/** apiserver names.SimpleNameGenerator: the base cut to 63 - 5 characters, then 5 random ones. */
export function generateName(base: string, random: RandomIndex = cryptoRandom): string {
  return base.slice(0, 63 - 5) + randomSuffix(random);
}

/**
 * The generateName a controller gives its pods (controller_utils.go getPodsPrefix): "NAME-". Pods of
 * a Deployment are made by its ReplicaSet, so theirs is "DEPLOYMENT-HASH-".
 */
export function podsPrefix(controllerName: string): string {
  return `${controllerName}-`;
}

/** deployment/sync.go getNewReplicaSet: the ReplicaSet of a template is "DEPLOYMENT-HASH". */
export function replicaSetName(deployment: string, hash: string): string {
  return `${deployment}-${hash}`;
}

/** history.ControllerRevisionName: "NAME-HASH", the prefix cut to 223 characters. */
export function controllerRevisionName(owner: string, hash: string): string {
  return `${owner.slice(0, 223)}-${hash}`;
}

/** stateful_set_utils.go getPodName: "SET-ORDINAL". */
export function statefulPodName(set: string, ordinal: number): string {
  return `${set}-${ordinal}`;
}

/** The ordinal of a StatefulSet's pod from its name (getParentNameAndOrdinal), or undefined. */
export function statefulOrdinal(set: string, podName: string): number | undefined {
  if (!podName.startsWith(`${set}-`)) return undefined;
  const rest = podName.slice(set.length + 1);
  return /^(0|[1-9]\d*)$/.test(rest) ? Number(rest) : undefined;
}

/** stateful_set_utils.go getPersistentVolumeClaimName: "TEMPLATE-SET-ORDINAL". */
export function claimName(template: string, podName: string): string {
  return `${template}-${podName}`;
}

/**
 * A stable uid for an object podbox models but never stores (a Deployment's ReplicaSet): derived
 * from its owner's uid and its name, so every pod made for it, before and after a restart, names
 * the same owner. Shaped as a version-5-like UUID.
 */
export function derivedUid(ownerUid: string, name: string): string {
  const h = createHash('sha1').update(`${ownerUid}/${name}`).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
