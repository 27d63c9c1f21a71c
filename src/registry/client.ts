import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { PodboxError, errnoOf } from '../errors.js';
import { parseChallenges, type Challenge } from './auth-challenge.js';
import { credentialCandidates, type Credential, type DockerConfigJson } from './credentials.js';
import { endpointsFor, type RegistryEndpoint } from './registries-conf.js';
import { MAX_MANIFEST_BYTES } from '../image/manifest.js';

/**
 * An OCI Distribution client for one repository (distribution-spec spec.md, "Pull"), over node:http(s)
 * with keep-alive agents. Per endpoint (mirrors first, then the registry, registries-conf.ts):
 *
 *   GET /v2/NAME/manifests/REF ──▶ registry
 *      ◀── 401, WWW-Authenticate: Bearer realm=..,service=..
 *   GET realm?service=..&scope=repository:NAME:pull ──▶ token server (basic auth if a credential exists)
 *      ◀── 200 {"token"} or {"access_token"}
 *   GET /v2/NAME/manifests/REF, Authorization: Bearer TOKEN ──▶ registry (and every later request)
 *      ◀── 200
 *   (a `Basic` challenge instead: the same request again with Authorization: Basic)
 *
 * No /v2/ ping first: the manifest request itself draws the challenge (as containerd's docker
 * resolver does), so an anonymous pull of a present image costs one round trip. Credentials are
 * tried in the order credentials.ts gives, then none.
 *
 * TLS: the system's CAs; NODE_EXTRA_CA_CERTS is Node's own; SSL_CERT_FILE is read here (Node
 * ignores it). An insecure endpoint (registries-conf.ts) is tried with TLS first and plain http
 * when it does not speak TLS, as Docker does for its insecure registries; certificates are always
 * verified (a private CA goes in SSL_CERT_FILE).
 */

export interface RegistryClientOptions {
  insecure?: boolean;
  pullSecrets?: DockerConfigJson[];
  signal?: AbortSignal;
  /** the pull names a digest: mirrors marked digest-only may serve it */
  digest?: boolean;
}

interface EndpointState {
  ep: RegistryEndpoint;
  scheme: 'https' | 'http';
  /** the scheme answered once: no more trying the other */
  settled?: boolean;
  /** the Authorization header that worked, if one was needed */
  auth?: string;
}

export interface Fetched {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: IncomingMessage;
}

const TRIES = 3;
const SOCKET_TIMEOUT_MS = 30_000;
const CERT_ERRORS =
  /^(UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|CERT_|ERR_TLS_CERT_ALTNAME_INVALID)/;
const TRANSIENT = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE']);

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;
/** Debian's (and Ubuntu's) system CA bundle. */
const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

let agents: { http: http.Agent; https: https.Agent } | undefined;

let cas: string[] | undefined;
/**
 * The CAs a registry's certificate is checked against: Node's bundled roots, the system's bundle
 * (what update-ca-certificates makes, as Go's crypto/x509 reads a Linux system: a company CA lives
 * there), SSL_CERT_FILE (OpenSSL's variable) and NODE_EXTRA_CA_CERTS. Read once, at the first TLS
 * connection (parsing them costs tens of ms: a loopback registry asked in plain http never pays).
 */
export function trustedCAs(): string[] {
  if (cas) return cas;
  const out = [...rootCertificates];
  try {
    out.push(readFileSync(SYSTEM_CA_BUNDLE, 'utf8'));
  } catch {
    // no system bundle: Node's roots and the variables' files
  }
  for (const f of [process.env.SSL_CERT_FILE, process.env.NODE_EXTRA_CA_CERTS]) {
    if (!f) continue;
    try {
      out.push(readFileSync(f, 'utf8'));
    } catch (e) {
      throw new PodboxError(
        'InvalidArgument',
        `cannot read the CA certificates ${f}: ${(e as Error).message}`,
        'point SSL_CERT_FILE / NODE_EXTRA_CA_CERTS at a readable PEM file',
      );
    }
  }
  cas = out;
  return out;
}

function agentsOnce() {
  agents ??= {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true, ca: trustedCAs() }),
  };
  return agents;
}

export const isTransientStatus = (s: number) => s === 429 || (s >= 500 && s !== 501 && s !== 505);

/** A network error worth another try (a reset connection, a timeout). */
export function isTransientError(e: unknown): boolean {
  const c = errnoOf(e);
  return (c !== undefined && TRANSIENT.has(c)) || /socket hang up|aborted/.test((e as Error)?.message ?? '');
}

/** The server does not speak TLS (a plain http registry asked in https): where insecure, http is tried. */
export function tlsHandshakeRefused(e: unknown): boolean {
  const c = errnoOf(e) ?? '';
  return c === 'EPROTO' || c.startsWith('ERR_SSL_') || /wrong version number|packet length too long/.test(String(e));
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/** The error code of readBody's refusal of a body over its limit. */
export const BODY_TOO_LARGE = 'ERR_BODY_TOO_LARGE';

/**
 * Reads a response body (small ones: manifests, tokens, errors) to the end. More than `limit`
 * bytes (announced by Content-Length or sent) is an error of code BODY_TOO_LARGE, raised before
 * the excess is kept.
 */
export async function readBody(res: IncomingMessage, limit = 8 << 20): Promise<Buffer> {
  const tooLarge = () => {
    res.destroy();
    return Object.assign(new Error(`response larger than ${limit} bytes`), { code: BODY_TOO_LARGE });
  };
  if (Number(res.headers['content-length']) > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > limit) throw tooLarge();
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Discards a response body so its connection can be reused. */
function drain(res: IncomingMessage): void {
  res.resume();
}

/** The `errors[].code` values of a distribution-spec error body (NAME_UNKNOWN, MANIFEST_UNKNOWN…). */
export function errorCodes(body: Buffer): string[] {
  try {
    const o = JSON.parse(body.toString()) as { errors?: { code?: unknown }[] };
    return (o.errors ?? []).map((e) => String(e.code ?? ''));
  } catch {
    return [];
  }
}

export class RegistryClient {
  private readonly states: EndpointState[];
  /** the endpoint that served the manifest: blobs come from it too */
  private chosen: EndpointState | undefined;
  private readonly tokens = new Map<string, string>();

  constructor(
    /** registry as the reference names it: `docker.io`, `127.0.0.1:5000` */
    readonly registry: string,
    /** repository path: `library/busybox` */
    readonly repository: string,
    /** the image as errors name it */
    readonly image: string,
    private readonly opts: RegistryClientOptions = {},
  ) {
    this.states = endpointsFor(registry, { insecure: opts.insecure, digest: opts.digest }).map((ep) => ({
      ep,
      scheme: ep.insecure && LOOPBACK.test(ep.host.replace(/:\d+$/, '')) ? 'http' : 'https',
    }));
  }

  /** The registry host being talked to (a mirror's, once one served the manifest). */
  get host(): string {
    return (this.chosen ?? this.states[this.states.length - 1]!).ep.host;
  }

  // --- errors, each naming the image and the registry ---

  private error(code: PodboxError['code'], why: string, hint: string, host = this.host): PodboxError {
    return new PodboxError(code, `cannot pull ${this.image} from ${host}: ${why}`, hint);
  }

  private networkError(e: unknown, host: string): PodboxError {
    if (e instanceof PodboxError) return e;
    if (this.opts.signal?.aborted) return this.error('ImagePullFailed', 'interrupted', 'pull it again', host);
    const code = errnoOf(e) ?? '';
    const msg = (e as Error)?.message ?? String(e);
    if (CERT_ERRORS.test(code) || /certificate/.test(msg)) {
      return this.error(
        'RegistryTLS',
        `TLS certificate not trusted (${msg})`,
        'if the registry uses a private CA, point SSL_CERT_FILE or NODE_EXTRA_CA_CERTS at its certificate',
        host,
      );
    }
    if (tlsHandshakeRefused(e)) {
      return this.error(
        'RegistryTLS',
        `TLS handshake failed (${msg})`,
        `for a registry without TLS, pass --insecure or add ${host} to PODBOX_INSECURE_REGISTRIES`,
        host,
      );
    }
    const why =
      code === 'ECONNREFUSED'
        ? 'connection refused'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'host name not found'
          : code === 'ETIMEDOUT'
            ? 'timed out'
            : msg;
    return this.error(
      'RegistryUnreachable',
      `registry unreachable (${why})`,
      'check the registry address and the network; a mirror can be configured for it',
      host,
    );
  }

  private unauthorized(host: string): PodboxError {
    return this.error(
      'ImagePullUnauthorized',
      'access denied (the repository may not exist, or needs credentials)',
      `check the name; if it is private, log in with \`podbox login ${this.registry}\`` +
        ' or give the pod an imagePullSecret',
      host,
    );
  }

  // --- transport ---

  /** One HTTP request, following redirects (blobs often live elsewhere); Authorization stays on the same host. */
  private async send(
    url: URL,
    headers: Record<string, string>,
    method = 'GET',
    body?: string,
    redirects = 5,
  ): Promise<IncomingMessage> {
    const a = agentsOnce();
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const mod = url.protocol === 'https:' ? https : http;
      const req = mod.request(url, {
        method,
        headers: { 'user-agent': 'podbox', ...headers },
        agent: url.protocol === 'https:' ? a.https : a.http,
        signal: this.opts.signal,
        timeout: SOCKET_TIMEOUT_MS,
      });
      req.on('response', resolve);
      req.on('error', reject);
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.end(body);
    });
    const status = res.statusCode ?? 0;
    if ([301, 302, 303, 307, 308].includes(status) && res.headers.location && redirects > 0) {
      drain(res);
      const next = new URL(res.headers.location, url);
      const h = { ...headers };
      if (next.host !== url.host) delete h.authorization;
      return this.send(next, h, method === 'HEAD' ? 'HEAD' : 'GET', undefined, redirects - 1);
    }
    return res;
  }

  /**
   * A request to an endpoint at `path`, falling back to plain http where the endpoint allows it.
   * A loopback registry is asked in plain http first: most are (a test or CI registry), and TLS
   * costs a pull its CA store (~40 ms of CPU) before the first byte. Nothing secret goes in that
   * first request (credentials follow a challenge, once the scheme is settled); a TLS server's
   * refusal (Go's "HTTP request to an HTTPS server" 400, or a closed connection) turns it to https.
   */
  private async sendTo(st: EndpointState, path: string, headers: Record<string, string>): Promise<IncomingMessage> {
    const h = st.auth ? { ...headers, authorization: st.auth } : headers;
    const url = () => new URL(`${st.scheme}://${st.ep.host}${path}`);
    if (!st.settled && st.scheme === 'http') {
      let res: IncomingMessage | undefined;
      try {
        res = await this.send(url(), h);
      } catch (e) {
        if (!isTransientError(e)) throw e;
      }
      if (res && res.statusCode === 400) {
        const body = await readBody(res, 1 << 16).catch(() => Buffer.alloc(0));
        if (!/https/i.test(body.toString()))
          throw this.error(
            'ImagePullFailed',
            'the registry answered HTTP 400',
            'check the registry address',
            st.ep.host,
          );
        res = undefined;
      }
      if (res) {
        st.settled = true;
        return res;
      }
      st.scheme = 'https';
    }
    try {
      const res = await this.send(url(), h);
      st.settled = true;
      return res;
    } catch (e) {
      if (
        !st.settled &&
        st.scheme === 'https' &&
        st.ep.insecure &&
        (tlsHandshakeRefused(e) || errnoOf(e) === 'ECONNRESET')
      ) {
        st.scheme = 'http';
        const res = await this.send(url(), h);
        st.settled = true;
        return res;
      }
      throw e;
    }
  }

  /** `sendTo` answering the registry's 401 challenge: credentials in order, then anonymous. */
  private async authorized(st: EndpointState, path: string, headers: Record<string, string>): Promise<IncomingMessage> {
    const res = await this.sendTo(st, path, headers);
    if (res.statusCode !== 401) return res;
    drain(res);
    const challenges = parseChallenges(res.headers['www-authenticate']);
    const candidates: (Credential | undefined)[] = [
      // The repository path too: keys scoped to a path (`quay.io/team`) match as the kubelet's keyring does.
      ...credentialCandidates(`${this.registry}/${this.repository}`, this.opts.pullSecrets),
      undefined,
    ];
    for (const cand of candidates) {
      const header = await this.authHeader(st, challenges, cand);
      if (header === undefined) continue;
      st.auth = header;
      const again = await this.sendTo(st, path, headers);
      if (again.statusCode !== 401 && again.statusCode !== 403) return again;
      drain(again);
      st.auth = undefined;
    }
    throw this.unauthorized(st.ep.host);
  }

  /** The Authorization header for a challenge and a credential (undefined: this one cannot answer it). */
  private async authHeader(
    st: EndpointState,
    challenges: Challenge[],
    cand: Credential | undefined,
  ): Promise<string | undefined> {
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      if (cand && 'registryToken' in cand) return `Bearer ${cand.registryToken}`;
      const token = await this.fetchToken(st, bearer.params, cand);
      return token === undefined ? undefined : `Bearer ${token}`;
    }
    if (challenges.some((c) => c.scheme === 'basic') && cand && 'username' in cand) {
      return `Basic ${Buffer.from(`${cand.username}:${cand.password}`).toString('base64')}`;
    }
    return undefined;
  }

  /**
   * docker/distribution registry/client/auth/session.go fetchToken: GET realm?service&scope with
   * basic auth for a username, POST of an OAuth2 refresh_token grant for an identity token.
   * Undefined when the token server refuses this credential.
   */
  private async fetchToken(
    st: EndpointState,
    params: Record<string, string>,
    cand: Credential | undefined,
  ): Promise<string | undefined> {
    const scope = `repository:${this.repository}:pull`;
    const key = JSON.stringify([params.realm, params.service, scope, cand ? Object.values(cand) : null]);
    const cached = this.tokens.get(key);
    if (cached) return cached;
    let realm: URL;
    try {
      realm = new URL(params.realm!);
    } catch {
      throw this.error(
        'ImagePullFailed',
        `its token realm ${JSON.stringify(params.realm)} is not a URL`,
        'report it to the registry owner',
        st.ep.host,
      );
    }
    const loopback = LOOPBACK.test(realm.hostname);
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && (loopback || st.ep.insecure))) {
      throw this.error(
        'ImagePullFailed',
        `its token realm ${realm.origin} is not https`,
        'credentials are only sent over TLS; mark the registry insecure if this is intended',
        st.ep.host,
      );
    }
    let res: IncomingMessage;
    try {
      if (cand && 'identityToken' in cand) {
        const form = new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: cand.identityToken,
          service: params.service ?? '',
          scope,
          client_id: 'podbox',
        }).toString();
        res = await this.send(realm, { 'content-type': 'application/x-www-form-urlencoded' }, 'POST', form);
      } else {
        if (params.service !== undefined) realm.searchParams.set('service', params.service);
        realm.searchParams.set('scope', scope);
        const h: Record<string, string> = {};
        if (cand && 'username' in cand)
          h.authorization = `Basic ${Buffer.from(`${cand.username}:${cand.password}`).toString('base64')}`;
        res = await this.send(realm, h);
      }
    } catch (e) {
      throw this.networkError(e, realm.host);
    }
    const status = res.statusCode ?? 0;
    if (status === 401 || status === 403) {
      drain(res);
      return undefined;
    }
    const body = await readBody(res, 1 << 20);
    if (status !== 200) {
      throw this.error(
        'ImagePullFailed',
        `its token server ${realm.host} answered HTTP ${status}`,
        'try again later',
        st.ep.host,
      );
    }
    let token: unknown;
    try {
      const o = JSON.parse(body.toString()) as { token?: unknown; access_token?: unknown };
      token = o.token ?? o.access_token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || !token) {
      throw this.error(
        'ImagePullFailed',
        `its token server ${realm.host} gave no token`,
        'report it to the registry owner',
        st.ep.host,
      );
    }
    this.tokens.set(key, token);
    return token;
  }

  /** `authorized` with transient failures (reset connections, 5xx, 429) tried again with back-off. */
  private async request(st: EndpointState, path: string, headers: Record<string, string>): Promise<IncomingMessage> {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.authorized(st, path, headers);
        if (isTransientStatus(res.statusCode ?? 0) && attempt < TRIES) {
          drain(res);
          await sleep(backoff(attempt), this.opts.signal);
          continue;
        }
        return res;
      } catch (e) {
        if (e instanceof PodboxError) throw e;
        if (isTransientError(e) && attempt < TRIES && !this.opts.signal?.aborted) {
          await sleep(backoff(attempt), this.opts.signal).catch(() => {});
          continue;
        }
        throw this.networkError(e, st.ep.host);
      }
    }
  }

  // --- the two things a pull fetches ---

  /**
   * GET /v2/NAME/manifests/REF, from the first endpoint that has it (mirrors first). Returns the
   * bytes as served; the caller checks them against a digest it knows.
   */
  async manifest(reference: string, accept: string): Promise<{ bytes: Buffer; contentType?: string }> {
    const path = `/v2/${this.repository}/manifests/${reference}`;
    let last: unknown;
    for (const st of this.chosen ? [this.chosen] : this.states) {
      try {
        const res = await this.request(st, path, { accept });
        const status = res.statusCode ?? 0;
        const body = await readBody(res, MAX_MANIFEST_BYTES).catch((e) => {
          if (errnoOf(e) !== BODY_TOO_LARGE) throw e;
          throw this.error(
            'ImagePullFailed',
            `the manifest of ${reference.includes(':') ? reference : `tag "${reference}"`} is over 4 MiB`,
            'the registry served something that is not an image manifest; check the image name',
            st.ep.host,
          );
        });
        if (status === 200) {
          this.chosen = st;
          return { bytes: body, contentType: res.headers['content-type'] };
        }
        last = this.statusError(status, body, reference, st.ep.host);
      } catch (e) {
        last = e instanceof PodboxError ? e : this.networkError(e, st.ep.host);
      }
    }
    throw last;
  }

  private statusError(status: number, body: Buffer, reference: string, host: string): PodboxError {
    const codes = errorCodes(body);
    if (codes.includes('NAME_UNKNOWN'))
      return this.error(
        'ImageNotFound',
        `repository ${this.repository} not found`,
        'check the image name; if the repository is private, log in first (`podbox login`)',
        host,
      );
    if (status === 404 || codes.includes('MANIFEST_UNKNOWN')) {
      const what = reference.includes(':') ? `digest ${reference}` : `tag "${reference}"`;
      return this.error(
        'ImageNotFound',
        `manifest unknown: no ${what} in ${this.repository}`,
        'check the tag or digest',
        host,
      );
    }
    if (status === 401 || status === 403) return this.unauthorized(host);
    return this.error('ImagePullFailed', `the registry answered HTTP ${status}`, 'try again later', host);
  }

  /**
   * Opens a blob from `offset` (HTTP Range, for a resumed download). Status 206 means the range was
   * honoured, 200 that the whole blob comes. Foreign layers' `urls` come first when given.
   */
  async blob(digest: string, offset: number, urls: string[] = []): Promise<Fetched> {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    // 416: nothing from `offset` on; the caller judges what that says of the blob's size.
    const served = (status: number) => status === 200 || status === 206 || (status === 416 && offset > 0);
    for (const u of urls) {
      try {
        const res = await this.send(new URL(u), headers);
        const status = res.statusCode ?? 0;
        if (served(status)) return { status, headers: res.headers, body: res };
        drain(res);
      } catch {
        // the registry is the fallback (containerd's fetcher tries urls, then the registry)
      }
    }
    const st = this.chosen ?? this.states[this.states.length - 1]!;
    const res = await this.request(st, `/v2/${this.repository}/blobs/${digest}`, headers);
    const status = res.statusCode ?? 0;
    if (served(status)) return { status, headers: res.headers, body: res };
    const body = await readBody(res).catch(() => Buffer.alloc(0));
    if (status === 404 || errorCodes(body).includes('BLOB_UNKNOWN'))
      throw this.error(
        'ImageNotFound',
        `blob ${digest} not found`,
        'the image is incomplete in the registry; push it again',
        st.ep.host,
      );
    throw this.statusError(status, body, digest, st.ep.host);
  }

  /** The network error a failed blob stream means, named for this pull. */
  blobStreamError(e: unknown): PodboxError {
    return this.networkError(e, this.host);
  }
}

export const backoff = (attempt: number) => 250 * 2 ** (attempt - 1);
