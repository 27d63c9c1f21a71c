/**
 * Which `auths` keys apply to an image, decided without I/O.
 *
 * Pull secrets follow the kubelet's keyring (kubernetes pkg/credentialprovider/keyring.go,
 * BasicDockerKeyring.Add and Lookup, URLsMatch): a key may carry a scheme (dropped), a path (kept,
 * except docker's `/v1/` and `/v2/` API prefixes), a port (must be equal), and `*` globs in each
 * dot-separated part of its host name (`*.example.com` matches `a.example.com`, not
 * `a.b.example.com`). Every matching key counts, the most specific (reverse-sorted) first; Docker
 * Hub's legacy key `https://index.docker.io/v1/` is the fallback for images on Docker Hub.
 *
 * The user's own files follow podman's lookup instead (containers/image pkg/docker/config/config.go
 * findCredentialsInFile, authKeysForKey, normalizeAuthFileKey): the most specific of `host/ns/repo`,
 * `host/ns`, `host` given exactly, else a key whose host (scheme and path dropped) is the registry.
 */

/** `host[:port]` and `/path` of a key or an image, scheme dropped (keyring.go parseSchemelessURL). */
function splitKey(s: string): { host: string; path: string } {
  const bare = s.replace(/^https?:\/\//, '');
  const slash = bare.indexOf('/');
  return slash < 0 ? { host: bare, path: '' } : { host: bare.slice(0, slash), path: bare.slice(slash) };
}

/**
 * The index key of an `auths` key (BasicDockerKeyring.Add): `https://index.docker.io/v1/` is
 * `index.docker.io`, `quay.io/org` stays `quay.io/org`. Undefined for a key with no host.
 */
export function keyringIndexKey(key: string): string | undefined {
  const { host, path } = splitKey(key);
  if (host === '') return undefined;
  const effective = path.startsWith('/v1/') || path.startsWith('/v2/') ? path.slice(3) : path;
  return effective.length > 0 && effective !== '/' ? host + effective : host;
}

/** net.SplitHostPort as keyring.go splitURL uses it: `[::1]:5000` → `::1`, `5000`; no port → ''. */
function hostAndPort(hostport: string): { parts: string[]; port: string } {
  const m = /^\[([^\]]*)\]:(\d*)$/.exec(hostport) ?? /^([^:]*):(\d*)$/.exec(hostport);
  const [host, port] = m ? [m[1]!, m[2]!] : [hostport, ''];
  return { parts: host.split('.'), port };
}

/** Go's path/filepath.Match for one host part: `*` and `?` within the part, `[...]` classes. */
function globMatch(glob: string, s: string): boolean {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[^.]*';
    else if (c === '?') re += '[^.]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) return false; // filepath.ErrBadPattern: no match
      const body = glob.slice(i + 1, end).replace(/^\^/, '!');
      re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
      i = end;
    } else if (c === '\\' && i + 1 < glob.length) re += `\\${glob[++i]}`;
    else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`).test(s);
}

/** keyring.go URLsMatchStr: does the (schemeless) `glob` key match the (schemeless) `target` image? */
export function keyMatches(glob: string, target: string): boolean {
  const g = splitKey(glob),
    t = splitKey(target);
  const gh = hostAndPort(g.host),
    th = hostAndPort(t.host);
  if (gh.port !== th.port) return false;
  if (gh.parts.length !== th.parts.length) return false;
  if (!t.path.startsWith(g.path)) return false;
  return gh.parts.every((p, i) => globMatch(p, th.parts[i]!));
}

/** keyring.go isDefaultRegistryMatch: is `image` (`docker.io/library/x`, `library/x`, `x`) on Docker Hub? */
export function isDefaultRegistryMatch(image: string): boolean {
  const slash = image.indexOf('/');
  const first = slash < 0 ? image : image.slice(0, slash);
  if (first === '') return false;
  if (slash < 0) return true;
  if (first === 'docker.io' || first === 'index.docker.io') return true;
  return !/[.:]/.test(first);
}

const DEFAULT_REGISTRY_KEY = 'index.docker.io';

/**
 * BasicDockerKeyring.Lookup over the entries of several configs (one keyring, as the kubelet builds
 * one from all of a pod's pull secrets): the entries whose key matches `image`, most specific key
 * first, in config order for the same key; else the Docker Hub entries for a Docker Hub image.
 */
export function keyringLookup<E>(configs: Record<string, E>[], image: string): E[] {
  const byKey = new Map<string, E[]>();
  for (const auths of configs) {
    for (const [key, entry] of Object.entries(auths)) {
      const k = keyringIndexKey(key);
      if (k === undefined) continue;
      byKey.set(k, [...(byKey.get(k) ?? []), entry]);
    }
  }
  // Go's sort.Reverse(sort.StringSlice): plain byte order, reversed.
  const index = [...byKey.keys()].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  const found = index.filter((k) => keyMatches(k, image)).flatMap((k) => byKey.get(k)!);
  if (found.length > 0) return found;
  if (isDefaultRegistryMatch(image)) return byKey.get(DEFAULT_REGISTRY_KEY) ?? [];
  return [];
}

/** containers/image normalizeRegistry, plus Docker's legacy index host. */
function normalizeRegistry(host: string): string {
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

/**
 * The entry of one user file for `image` (`host` or `host/ns/repo`), as podman picks it, with the key
 * it was found under; undefined when none applies.
 */
export function userFileLookup<E>(auths: Record<string, E>, image: string): { key: string; entry: E } | undefined {
  const { host, path } = splitKey(image);
  const registry = normalizeRegistry(host);
  const segments = path.split('/').filter(Boolean);
  for (let n = segments.length; n >= 0; n--) {
    const key = [registry, ...segments.slice(0, n)].join('/');
    if (Object.hasOwn(auths, key)) return { key, entry: auths[key]! };
  }
  for (const [key, entry] of Object.entries(auths)) {
    const bare = key.replace(/^https?:\/\//, '');
    // A key without a scheme that has a path names a namespace: only an exact match counts (above).
    if (bare === key && bare.includes('/')) continue;
    if (normalizeRegistry(bare.split('/')[0]!) === registry) return { key, entry };
  }
  return undefined;
}
