import http from 'node:http';
import https from 'node:https';
import { PodboxError, errnoOf } from '../errors.js';
import { endpointsFor, isLoopback, registryApiHost } from './registries-conf.js';
import { parseChallenges } from './auth-challenge.js';
import { tlsHandshakeRefused, trustedCAs } from './client.js';

/**
 * Checks a username and password against a registry before `podbox login` stores them, as
 * `docker login`/`podman login` do (docker/docker registry/auth.go loginV2; containers/image
 * pkg/docker/docker_client.go CheckAuth):
 *
 *   GET /v2/                         → 200: the registry wants no credentials; they are stored anyway
 *                                    → 401 WWW-Authenticate: Basic ...
 *   GET /v2/  Authorization: Basic   → 200 good, 401 refused
 *                                    → 401 WWW-Authenticate: Bearer realm=R,service=S
 *   GET R?service=S&account=USER  Authorization: Basic → 200 {"token"|"access_token"}, 401/403 refused
 *   GET /v2/  Authorization: Bearer TOKEN → 200 good, 401 refused
 *
 * Self-contained on purpose (one request at a time, no retries): the pull client is a separate
 * module. TLS is verified with the system's CAs and SSL_CERT_FILE (NODE_EXTRA_CA_CERTS is Node's own);
 * plain http is tried only for a registry that is insecure (registries-conf.ts), after https finds
 * no TLS server there.
 * As podman's CheckAuth, the registry is contacted by its own name: no mirror, no location rewrite.
 */
export const LOGIN_TIMEOUT_MS = 30_000;

export async function verifyLogin(
  registry: string,
  username: string,
  password: string,
  opts: { insecure?: boolean } = {},
): Promise<void> {
  const insecure = endpointsFor(registry, opts).find((e) => !e.mirror)!.insecure;
  const schemes = insecure ? ['https', 'http'] : ['https'];
  const basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const ask = async (url: string, headers: Record<string, string>) => {
    try {
      return await get(url, headers);
    } catch (e) {
      throw unreachable(registry, new URL(url).origin, e);
    }
  };
  let ping: Answer | undefined;
  let base = '';
  for (const scheme of schemes) {
    base = `${scheme}://${registryApiHost(registry)}`;
    try {
      ping = await get(`${base}/v2/`, {});
      break;
    } catch (e) {
      // As the pull client (client.ts sendTo): plain http only when the server speaks no TLS at all;
      // a certificate that does not verify is a TLS failure, never a reason to go without TLS.
      const noTls = tlsHandshakeRefused(e) || errnoOf(e) === 'ECONNRESET';
      if (scheme === schemes[schemes.length - 1] || !noTls) throw unreachable(registry, base, e);
    }
  }
  if (ping!.status === 200) return;
  if (ping!.status !== 401) throw unexpected(registry, `${base}/v2/`, ping!.status);
  const challenge = parseChallenges(ping!.headers['www-authenticate'])[0];
  if (challenge?.scheme === 'basic' || challenge === undefined) {
    const r = await ask(`${base}/v2/`, { authorization: basic });
    if (r.status === 200) return;
    if (r.status === 401 || r.status === 403) throw refused(registry);
    throw unexpected(registry, `${base}/v2/`, r.status);
  }
  if (challenge.scheme !== 'bearer' || !challenge.params.realm)
    throw unexpected(
      registry,
      `${base}/v2/`,
      401,
      `an authentication scheme podbox does not know (${challenge.scheme})`,
    );
  // The token endpoint is the registry's to name (often another host); its own scheme is used as given.
  let realm: URL;
  try {
    realm = new URL(challenge.params.realm);
  } catch {
    throw unexpected(registry, `${base}/v2/`, 401, `a token realm that is no URL (${challenge.params.realm})`);
  }
  if (realm.protocol === 'http:' && !insecure && !isLoopback(realm.host))
    throw new PodboxError(
      'RegistryTLS',
      `logging into "${registry}": its token service ${realm.origin} is plain http; the password is not sent there`,
      'if you trust that network, mark the registry insecure (--insecure)',
    );
  if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
  realm.searchParams.set('account', username);
  const t = await ask(realm.toString(), { authorization: basic });
  if (t.status === 401 || t.status === 403) throw refused(registry);
  if (t.status !== 200) throw unexpected(registry, `${realm.origin}${realm.pathname}`, t.status);
  let token: unknown;
  try {
    const body = JSON.parse(t.body) as { token?: unknown; access_token?: unknown };
    token = body.token ?? body.access_token;
  } catch {
    token = undefined;
  }
  if (typeof token !== 'string' || token === '')
    throw unexpected(registry, `${realm.origin}${realm.pathname}`, 200, 'no token in the answer');
  const r = await ask(`${base}/v2/`, { authorization: `Bearer ${token}` });
  if (r.status === 200) return;
  if (r.status === 401 || r.status === 403) throw refused(registry);
  throw unexpected(registry, `${base}/v2/`, r.status);
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One GET, bounded in time and in the size of the body kept (a token answer is small). TLS is
 * always verified, against the CAs pulls trust (client.ts trustedCAs): an insecure registry may be
 * plain http, not https with any certificate (the pull client never skips verification either).
 */
function get(url: string, headers: Record<string, string>): Promise<Answer> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  const tls = u.protocol === 'https:' ? { ca: trustedCAs(), rejectUnauthorized: true } : {};
  return new Promise((resolve, reject) => {
    const req = lib.get(
      u,
      { headers: { 'user-agent': 'podbox', ...headers }, timeout: LOGIN_TIMEOUT_MS, ...tls },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= 1024 * 1024) chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

function refused(registry: string): PodboxError {
  return new PodboxError(
    'LoginRefused',
    `logging into "${registry}": invalid username/password`,
    'check them (a token goes in as the password) and try again',
  );
}

function unreachable(registry: string, base: string, e: unknown): PodboxError {
  const code = errnoOf(e) ?? '';
  const why = (e as Error).message;
  if (/CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|SSL|wrong version number/i.test(`${code} ${why}`)) {
    return new PodboxError(
      'RegistryTLS',
      `logging into "${registry}": TLS failed at ${base}: ${why}`,
      'give its CA in SSL_CERT_FILE or NODE_EXTRA_CA_CERTS, or for a registry you trust without TLS use --insecure',
    );
  }
  return new PodboxError(
    'RegistryUnreachable',
    `logging into "${registry}": cannot reach ${base}: ${why}`,
    'check the registry name and that it is up (an http-only registry needs --insecure)',
  );
}

function unexpected(registry: string, url: string, status: number, what?: string): PodboxError {
  return new PodboxError(
    'RegistryUnreachable',
    `logging into "${registry}": ${url} answered ${what ?? `HTTP ${status}`}`,
    'check that it is a container registry (the Docker Registry HTTP API v2)',
  );
}

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?';
/** distribution/reference's domain: DNS labels or a bracketed IPv6 address, and an optional port. */
const REGISTRY_HOST = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9A-Fa-f:]+\\])(?::\\d+)?$`);

/**
 * The auth.json key for `podbox login ARG`, as podman writes it (containers/image
 * pkg/docker/config/config.go validateKey, normalizeRegistry): scheme and trailing slashes dropped,
 * Docker Hub's other names made `docker.io`; `host[:port]`, or `host[:port]/namespace` for
 * credentials that apply below that path only.
 */
export function loginKey(arg: string): string {
  const bare = arg.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  const slash = bare.indexOf('/');
  let host = slash < 0 ? bare : bare.slice(0, slash);
  const path = slash < 0 ? '' : bare.slice(slash);
  if (!REGISTRY_HOST.test(host) || path.includes('//'))
    throw new PodboxError(
      'InvalidArgument',
      `"${arg}" is not a registry`,
      'give host[:port], e.g. ghcr.io or 127.0.0.1:5000 (docker.io for Docker Hub)',
    );
  // Docker's legacy `index.docker.io/v1/` path is no namespace.
  if (host === 'index.docker.io' || host === 'registry-1.docker.io') host = 'docker.io';
  return host === 'docker.io' && /^\/v[12]$/.test(path) ? host : host + path;
}
