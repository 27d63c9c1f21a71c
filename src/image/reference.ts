import { PodboxError } from '../errors.js';

/**
 * Image references normalised exactly as Docker does (github.com/distribution/reference:
 * regexp.go for the grammar, normalize.go for ParseNormalizedNamed/splitDockerDomain and
 * FamiliarString, helpers.go for TagNameOnly): `busybox` is `docker.io/library/busybox:latest`,
 * `quay.io/a/b@sha256:…` keeps its digest and gets no tag.
 */
export interface ImageReference {
  /** registry host[:port], e.g. `docker.io`, `localhost:5000` */
  domain: string;
  /** repository path inside the registry, e.g. `library/busybox` */
  path: string;
  /** absent only when the reference has a digest and no tag */
  tag?: string;
  /** `algorithm:hex` */
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const NAME_TOTAL_LENGTH_MAX = 255;

// distribution/reference regexp.go, written out.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePat = `(?:${domainAndPort}/)?${remoteName}`;
const referenceRegexp = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const anchoredIdentifier = /^[a-f0-9]{64}$/;

/** The digest algorithms go-digest knows, with their hex lengths. */
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

function invalid(ref: string, why: string): PodboxError {
  return new PodboxError(
    'InvalidArgument',
    `invalid image reference "${ref}": ${why}`,
    'use NAME[:TAG][@DIGEST] with a lowercase name, e.g. busybox:1.36 or localhost:5000/team/app:v1',
  );
}

/** Checks a digest as go-digest's Validate does; returns an error text or undefined. */
export function digestError(digest: string): string | undefined {
  const i = digest.indexOf(':');
  if (i < 1) return 'invalid checksum digest format';
  const alg = digest.slice(0, i),
    hex = digest.slice(i + 1);
  const len = DIGEST_HEX_LENGTH[alg];
  if (len === undefined) return `unsupported digest algorithm ${alg}`;
  if (hex.length !== len) return 'invalid checksum digest length';
  if (!/^[a-f0-9]+$/.test(hex)) return 'invalid checksum digest format';
  return undefined;
}

/** distribution/reference splitDockerDomain. */
function splitDockerDomain(name: string): [string, string] {
  const i = name.indexOf('/');
  let domain: string, rest: string;
  const first = i === -1 ? '' : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    rest = name;
  } else {
    domain = first;
    rest = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !rest.includes('/')) rest = OFFICIAL_REPO_PREFIX + rest;
  return [domain, rest];
}

/**
 * ParseNormalizedNamed + TagNameOnly: the full reference, with `latest` added when neither a
 * tag nor a digest is given. Throws an InvalidArgument PodboxError with Docker's reason.
 */
export function parseReference(input: string): ImageReference {
  const s = input;
  if (s === '') throw invalid(input, 'repository name must have at least one component');
  if (anchoredIdentifier.test(s))
    throw invalid(input, `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  const [domain, remainder] = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remote.toLowerCase() !== remote) throw invalid(input, `repository name (${remote}) must be lowercase`);
  const full = `${domain}/${remainder}`;
  const m = referenceRegexp.exec(full);
  if (!m) {
    if (referenceRegexp.test(full.toLowerCase())) throw invalid(input, 'repository name must be lowercase');
    throw invalid(input, 'invalid reference format');
  }
  const name = m[1]!;
  if (name.length > NAME_TOTAL_LENGTH_MAX)
    throw invalid(input, `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  const tag = m[2];
  const digest = m[3];
  if (digest !== undefined) {
    const err = digestError(digest);
    if (err) throw invalid(input, err);
  }
  const slash = name.indexOf('/');
  const ref: ImageReference = { domain: name.slice(0, slash), path: name.slice(slash + 1) };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  if (ref.tag === undefined && ref.digest === undefined) ref.tag = 'latest';
  return ref;
}

/** `domain/path`: the repository, without tag or digest. */
export function repositoryOf(r: ImageReference): string {
  return `${r.domain}/${r.path}`;
}

/** The full normalised string: `docker.io/library/busybox:latest`, `quay.io/a/b@sha256:…`. */
export function formatReference(r: ImageReference): string {
  return repositoryOf(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** FamiliarName: `busybox` for docker.io/library/busybox, `user/app` for docker.io/user/app. */
export function familiarRepository(r: ImageReference): string {
  if (r.domain !== DEFAULT_DOMAIN) return repositoryOf(r);
  if (r.path.startsWith(OFFICIAL_REPO_PREFIX) && !r.path.slice(OFFICIAL_REPO_PREFIX.length).includes('/')) {
    return r.path.slice(OFFICIAL_REPO_PREFIX.length);
  }
  return r.path;
}

/** FamiliarString: `busybox:latest`, `localhost:5000/x:1`, `quay.io/a/b@sha256:…`. */
export function familiarReference(r: ImageReference): string {
  return (
    familiarRepository(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '')
  );
}

/** Normalises a reference string (throws on an invalid one). */
export function normalizeReference(s: string): string {
  return formatReference(parseReference(s));
}

/** The familiar form of a full reference string; the input itself if it does not parse. */
export function familiarize(s: string): string {
  try {
    return familiarReference(parseReference(s));
  } catch {
    return s;
  }
}
