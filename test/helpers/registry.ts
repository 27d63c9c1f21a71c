import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { execa } from 'execa';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createHash, createSign, createPublicKey, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBusyboxRootfs, tarBytes, type FileSpec } from './image-archive.js';

/**
 * A real registry for pull tests: Debian's `docker-registry` (Docker Distribution 2.8) on a free
 * 127.0.0.1 port, filesystem storage in a temp dir, optionally TLS (a CA and a certificate made
 * here with openssl), htpasswd basic auth, or token auth with a small token server here that signs
 * RS256 JWTs. Images are pushed with skopeo from OCI layouts written here by hand (so a test can
 * have zstd or uncompressed layers and multi-platform indexes).
 */
export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  /** the CA certificate (PEM) of a TLS registry */
  caFile?: string;
  user?: string;
  password?: string;
  /** the registry's storage root (to damage a blob) */
  storage: string;
  /** `METHOD PATH` of every request the registry served so far, from its access log */
  requests(): string[];
  /** kills the registry process at once (mid-answer), keeping its storage and port (for `restart`) */
  halt(): Promise<void>;
  /** starts it again as it was, on the same port with the same storage */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: 'pipe' });

/** A CA and a certificate for 127.0.0.1 signed by it. */
function makeTls(dir: string): { ca: string; cert: string; key: string } {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=podbox test CA'],
    dir,
  );
  openssl(['req', ...ec, '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'srv.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'srv.pem',
    ].concat(['-days', '2', '-extfile', 'ext']),
    dir,
  );
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'srv.pem'), key: join(dir, 'srv.key') };
}

/** libtrust's key id (docker/libtrust util.go keyIDFromCryptoKey), which the registry matches a JWT's `kid` to. */
function libtrustKeyId(certPem: string): string {
  const der = createPublicKey(certPem).export({ type: 'spki', format: 'der' });
  const hash = createHash('sha256').update(der).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const b of hash) bits += b.toString(2).padStart(8, '0');
  let b32 = '';
  for (let i = 0; i + 5 <= bits.length; i += 5) b32 += alphabet[parseInt(bits.slice(i, i + 5), 2)];
  return b32.match(/.{4}/g)!.join(':');
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** The token server of `auth: token` mode: the actions asked for with the right password, none for anonymous. */
async function startTokenServer(
  dir: string,
  user: string,
  password: string,
): Promise<{ server: Server; realm: string; bundle: string }> {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'tok.key',
      '-out',
      'tok.pem',
      '-days',
      '2',
      '-subj',
      '/CN=token',
    ],
    dir,
  );
  const key = readFileSync(join(dir, 'tok.key'), 'utf8');
  const kid = libtrustKeyId(readFileSync(join(dir, 'tok.pem'), 'utf8'));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const auth = req.headers.authorization;
    let granted = false;
    if (auth) {
      const [u, p] = Buffer.from(auth.replace(/^Basic /, ''), 'base64')
        .toString()
        .split(':');
      if (u !== user || p !== password) {
        res.writeHead(401).end('{"details":"wrong credentials"}');
        return;
      }
      granted = true;
    }
    const scope = url.searchParams.get('scope') ?? '';
    const [type, name, actions] = scope.split(':');
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: 'podbox-test-issuer',
      sub: granted ? user : '',
      aud: url.searchParams.get('service'),
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access: granted && type === 'repository' ? [{ type, name, actions: (actions ?? '').split(',') }] : [],
    };
    const signing = `${b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(signing).sign(key);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: `${signing}.${b64url(sig)}`, expires_in: 300 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { server, realm: `http://127.0.0.1:${port}/token`, bundle: join(dir, 'tok.pem') };
}

function ping(host: string, tls: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const req = (tls ? httpsRequest : httpRequest)(
      `${tls ? 'https' : 'http'}://${host}/v2/`,
      { rejectUnauthorized: false, timeout: 1000 },
      (res) => {
        res.resume();
        resolve(true);
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export async function startRegistry(opts: { tls?: boolean; auth?: 'basic' | 'token' } = {}): Promise<TestRegistry> {
  // Never skipped: a machine without them fails the registry tests, saying what to install.
  for (const tool of ['/usr/bin/docker-registry', '/usr/bin/skopeo', '/usr/bin/openssl', '/usr/bin/htpasswd'])
    if (!existsSync(tool))
      throw new Error(
        `${tool} is missing: the registry tests need apt-get install docker-registry skopeo openssl apache2-utils`,
      );
  const dir = mkdtempSync(join(tmpdir(), 'podbox-registry-'));
  const storage = join(dir, 'storage');
  mkdirSync(storage);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const user = opts.auth ? 'tester' : undefined;
  const password = opts.auth ? `pw-${randomBytes(6).toString('hex')}` : undefined;
  let tokenServer: Server | undefined;
  const config: string[] = [
    'version: 0.1',
    'log:',
    '  level: error',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${host}`,
    `  secret: ${randomBytes(8).toString('hex')}`,
  ];
  let caFile: string | undefined;
  if (opts.tls) {
    const t = makeTls(dir);
    caFile = t.ca;
    config.push('  tls:', `    certificate: ${t.cert}`, `    key: ${t.key}`);
  }
  if (opts.auth === 'basic') {
    writeFileSync(join(dir, 'htpasswd'), execFileSync('htpasswd', ['-Bbn', user!, password!]));
    config.push('auth:', '  htpasswd:', '    realm: podbox-test', `    path: ${join(dir, 'htpasswd')}`);
  } else if (opts.auth === 'token') {
    const t = await startTokenServer(dir, user!, password!);
    tokenServer = t.server;
    config.push(
      'auth:',
      '  token:',
      `    realm: ${t.realm}`,
      '    service: podbox-test-registry',
      '    issuer: podbox-test-issuer',
      `    rootcertbundle: ${t.bundle}`,
    );
  }
  // Manifests may give layer URLs (foreign layers): the registry refuses them unless allowed.
  config.push('validation:', '  manifests:', '    urls:', '      allow:', "        - '^https?://'");
  writeFileSync(join(dir, 'config.yml'), `${config.join('\n')}\n`);
  // The log goes to a file, not a pipe: pushImage blocks this process in skopeo, and a registry
  // writing into a full pipe would block with it.
  const logFile = join(dir, 'registry.log');
  let proc: ChildProcess;
  let exited: Promise<void>;
  const launch = () => {
    const logFd = openSync(logFile, 'a');
    proc = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    exited = new Promise<void>((r) => proc.once('exit', () => r()));
  };
  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const end = async (signal: 'SIGTERM' | 'SIGKILL') => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
  };
  // SIGKILL: a registry that stops, not one that shuts down gracefully finishing what it serves.
  const halt = () => end('SIGKILL');
  const stop = async () => {
    await end('SIGTERM');
    if (tokenServer) await new Promise<void>((r) => tokenServer!.close(() => r()));
    tokenServer = undefined;
    rmSync(dir, { recursive: true, force: true });
  };
  const waitUp = async () => {
    const end = Date.now() + 10_000;
    while (!(await ping(host, !!opts.tls))) {
      if (Date.now() > end || proc.exitCode !== null) {
        const log = readLog();
        await stop();
        throw new Error(`docker-registry did not start on ${host}: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  launch();
  await waitUp();
  const restart = async () => {
    await halt();
    launch();
    await waitUp();
  };
  const requests = () =>
    [...readLog().matchAll(/"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP\/[\d.]+" (\d+)/g)].map(
      (m) => `${m[1]} ${m[2]}`,
    );
  return { host, caFile, user, password, storage, requests, stop, halt, restart };
}

// --- pushing images ---

export interface PushOptions {
  /** each layer's files (default: one layer with /hello) */
  layers?: FileSpec[][];
  /** busybox-static as a first layer: an image a pod can run (CMD sh) */
  busybox?: boolean;
  compression?: 'gzip' | 'zstd' | 'none';
  /** several `os/arch[/variant]`: an image index, each image with a file /platform naming its platform */
  platforms?: string[];
  /** `user:password` for the registry */
  creds?: string;
}

export interface PushedImage {
  /** digest of the manifest (or index) the tag points to */
  digest: string;
  /** config digest (image id) per platform, in order */
  ids: string[];
  /** the layer digests of the first platform's image */
  layers: string[];
}

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const MT = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
};

function compress(tar: Buffer, how: 'gzip' | 'zstd' | 'none'): { bytes: Buffer; mediaType: string } {
  if (how === 'gzip') return { bytes: gzipSync(tar), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' };
  if (how === 'zstd')
    return {
      bytes: execFileSync('zstd', ['-q', '-c', '-3'], { input: tar, maxBuffer: 1 << 30 }),
      mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
    };
  return { bytes: tar, mediaType: 'application/vnd.oci.image.layer.v1.tar' };
}

function busyboxTar(): Buffer {
  const root = mkdtempSync(join(tmpdir(), 'podbox-busybox-'));
  try {
    makeBusyboxRootfs(root);
    return execFileSync('tar', ['-C', root, '--numeric-owner', '--owner=0', '--group=0', '-cf', '-', '.'], {
      maxBuffer: 1 << 30,
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Builds the image (per platform) as an OCI layout and pushes it with `skopeo copy` to `HOST/REPO:TAG`. */
export async function pushImage(host: string, ref: string, opts: PushOptions = {}): Promise<PushedImage> {
  const dir = mkdtempSync(join(tmpdir(), 'podbox-push-'));
  try {
    mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
    const blob = (b: Buffer) => {
      writeFileSync(join(dir, 'blobs/sha256', sha(b).slice(7)), b);
      return sha(b);
    };
    const platforms = opts.platforms ?? [];
    const images = (platforms.length ? platforms : [undefined]).map((platform) => {
      const tars: Buffer[] = [];
      if (opts.busybox) tars.push(busyboxTar());
      const layerFiles = opts.layers ?? [[{ path: 'hello', content: 'hello from the registry\n' }]];
      for (const files of layerFiles) tars.push(tarBytes(files));
      if (platform) tars.push(tarBytes([{ path: 'platform', content: `${platform}\n` }]));
      const layers = tars.map((t) => {
        const c = compress(t, opts.compression ?? 'gzip');
        return { mediaType: c.mediaType, digest: blob(c.bytes), size: c.bytes.length, diffId: sha(t) };
      });
      const [os, architecture, variant] = (platform ?? `linux/${process.arch === 'arm64' ? 'arm64' : 'amd64'}`).split(
        '/',
      );
      const config = Buffer.from(
        JSON.stringify({
          created: '2024-01-02T03:04:05Z',
          architecture,
          os,
          ...(variant ? { variant } : {}),
          config: opts.busybox ? { Cmd: ['sh'], Env: ['PATH=/bin'] } : { Cmd: ['/hello'] },
          rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
        }),
      );
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MT.manifest,
          config: { mediaType: MT.config, digest: blob(config), size: config.length },
          layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
        }),
      );
      const platformField = platform ? { os, architecture, ...(variant ? { variant } : {}) } : undefined;
      return { id: sha(config), layers: layers.map((l) => l.digest), manifest, digest: blob(manifest), platformField };
    });
    let top: { mediaType: string; digest: string; size: number };
    if (platforms.length) {
      const index = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MT.index,
          manifests: images.map((i) => ({
            mediaType: MT.manifest,
            digest: i.digest,
            size: i.manifest.length,
            platform: i.platformField,
          })),
        }),
      );
      top = { mediaType: MT.index, digest: blob(index), size: index.length };
    } else {
      top = { mediaType: MT.manifest, digest: images[0]!.digest, size: images[0]!.manifest.length };
    }
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(
      join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': 'pushed' } }],
      }),
    );
    const args = ['copy', '-q', '--all', '--preserve-digests', '--dest-tls-verify=false'];
    if (opts.creds) args.push('--dest-creds', opts.creds);
    // Asynchronously: the token server answering skopeo runs in this process.
    await execa('skopeo', [...args, `oci:${dir}:pushed`, `docker://${host}/${ref}`]);
    return { digest: top.digest, ids: images.map((i) => i.id), layers: images[0]!.layers };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- writing to the registry through its API (for manifests skopeo would not write) ---

/** Uploads a blob to `host/repo` (distribution-spec monolithic upload: POST, then PUT ?digest=). */
export async function putBlob(host: string, repo: string, bytes: Buffer): Promise<string> {
  const digest = sha(bytes);
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`blob upload to ${host}/${repo}: HTTP ${start.status}`);
  const loc = new URL(start.headers.get('location')!, `http://${host}`);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, {
    method: 'PUT',
    body: new Uint8Array(bytes),
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (put.status !== 201) throw new Error(`blob upload to ${host}/${repo}: HTTP ${put.status} ${await put.text()}`);
  return digest;
}

/** Puts a manifest (or index) document under `tag`; returns its digest. The registry checks what it checks. */
export async function putManifest(host: string, repo: string, tag: string, doc: object): Promise<string> {
  const body = Buffer.from(JSON.stringify(doc));
  const mediaType = (doc as { mediaType?: string }).mediaType ?? MT.manifest;
  const put = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: new Uint8Array(body),
    headers: { 'content-type': mediaType },
  });
  if (put.status !== 201)
    throw new Error(`manifest PUT ${host}/${repo}:${tag}: HTTP ${put.status} ${await put.text()}`);
  return sha(body);
}

/** The manifest `host/repo:ref` as the registry serves it (OCI media types, as pushImage writes). */
export async function getManifest(
  host: string,
  repo: string,
  ref: string,
): Promise<{ config: { mediaType: string; digest: string; size: number }; layers: Record<string, unknown>[] }> {
  const r = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, { headers: { accept: MT.manifest } });
  if (r.status !== 200) throw new Error(`manifest GET ${host}/${repo}:${ref}: HTTP ${r.status}`);
  return (await r.json()) as never;
}

/** An image config for these uncompressed layer tars (what a pushed image's config blob holds). */
export function imageConfig(tars: Buffer[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
      os: 'linux',
      config: { Cmd: ['/hello'] },
      rootfs: { type: 'layers', diff_ids: tars.map((t) => sha(t)) },
    }),
  );
}
