import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { PODBOX, until } from '../helpers/cli.js';
import { imageHome } from '../helpers/image-store.js';
import { terminalScreen } from '../helpers/terminal.js';
import { pushImage, startRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * `podbox image pull` against a real registry (docker-registry on 127.0.0.1), images pushed with
 * skopeo: transports, auth, manifests, layer compressions, failures, and the blob store.
 */
const short = (d: string) => d.slice(7, 19);
const hexOf = (d: string) => d.slice(7);

describe('image pull', () => {
  let reg: TestRegistry;
  let h: ReturnType<typeof imageHome>;
  const others: { stop(): Promise<void> }[] = [];
  const work = mkdtempSync(join(tmpdir(), 'podbox-pull-'));

  beforeAll(async () => {
    reg = await startRegistry();
    h = imageHome();
  });
  afterAll(async () => {
    await h?.cleanup();
    for (const o of others) await o.stop();
    await reg?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const blobFiles = () => {
    const d = join(h.home, 'images/blobs/sha256');
    return existsSync(d) ? readdirSync(d).sort() : [];
  };
  const blobGets = (r: TestRegistry, digest: string) =>
    r.requests().filter((q) => q.startsWith('GET ') && q.endsWith(`/blobs/${digest}`)).length;

  it('pulls over plain http from 127.0.0.1, names the image by tag and digest, and a second pull asks only for the manifest', async () => {
    const p = await pushImage(reg.host, 'team/app:1', {
      layers: [[{ path: 'hello', content: 'hello from the registry\n' }], [{ path: 'etc/two', content: '2\n' }]],
    });
    const r = await h.run(['image', 'pull', `${reg.host}/team/app:1`]);
    // One line per layer as each finishes: downloads run in parallel, so in any order.
    const lines = r.stderr.split('\n');
    expect([lines[0], lines.slice(1, -1).sort(), lines.at(-1)]).toEqual([
      `Trying to pull ${reg.host}/team/app:1...`,
      p.layers.map((l) => `Copying blob ${short(l)} done (0.1kB)`).sort(),
      'Writing manifest to image destination',
    ]);
    expect(r.stdout).toBe(p.ids[0]);
    expect(r.exitCode).toBe(0);
    const img = await h.inspect(`${reg.host}/team/app:1`);
    expect(img.names).toEqual([`${reg.host}/team/app:1`]);
    expect(img.digests).toEqual([`${reg.host}/team/app@${p.digest}`]);
    expect(readFileSync(join(img.rootfs, 'hello'), 'utf8')).toBe('hello from the registry\n');
    expect(readFileSync(join(img.rootfs, 'etc/two'), 'utf8')).toBe('2\n');
    expect(blobFiles()).toEqual(p.layers.map(hexOf).sort());

    const before = reg.requests().length;
    const again = await h.run(['image', 'pull', `${reg.host}/team/app:1`]);
    expect(again.stderr.split('\n')).toEqual([
      `Trying to pull ${reg.host}/team/app:1...`,
      ...p.layers.map((l) => `Copying blob ${short(l)} skipped: already exists`),
      'Writing manifest to image destination',
    ]);
    expect(again.stdout).toBe(p.ids[0]);
    expect(reg.requests().slice(before)).toEqual([`GET /v2/team/app/manifests/1`]);

    const q = await h.run(['image', 'pull', '-q', `${reg.host}/team/app@${p.digest}`]);
    expect(q).toEqual({ exitCode: 0, stdout: p.ids[0], stderr: '' });
  });

  it('downloads a layer two images share once, and prune removes the layers no image needs', async () => {
    const shared = [{ path: 'shared', content: 'in both images\n' }];
    const a = await pushImage(reg.host, 'share/a:1', { layers: [shared, [{ path: 'a', content: 'a\n' }]] });
    const b = await pushImage(reg.host, 'share/b:1', { layers: [shared, [{ path: 'b', content: 'b\n' }]] });
    expect(a.layers[0]).toBe(b.layers[0]);
    expect((await h.run(['image', 'pull', '-q', `${reg.host}/share/a:1`])).stdout).toBe(a.ids[0]);
    const rb = await h.run(['image', 'pull', `${reg.host}/share/b:1`]);
    expect(rb.stderr.split('\n')).toContain(`Copying blob ${short(b.layers[0]!)} skipped: already exists`);
    expect(blobGets(reg, a.layers[0]!)).toBe(1);

    expect((await h.run(['image', 'rm', `${reg.host}/share/b:1`])).exitCode).toBe(0);
    const pruned = await h.run(['image', 'prune']);
    expect(pruned).toEqual({ exitCode: 0, stdout: 'Total reclaimed space from layers: 101 B', stderr: '' });
    expect(blobFiles()).toContain(hexOf(a.layers[0]!));
    expect(blobFiles()).toContain(hexOf(a.layers[1]!));
    expect(blobFiles()).not.toContain(hexOf(b.layers[1]!));
    expect((await h.run(['image', 'rm', `${reg.host}/share/a:1`])).exitCode).toBe(0);
  });

  it('refuses an unknown tag and an unknown repository in one line', async () => {
    await pushImage(reg.host, 'team/known:1');
    const tag = await h.run(['image', 'pull', `${reg.host}/team/known:2`]);
    expect(tag.exitCode).toBe(1);
    expect(tag.stderr.split('\n').slice(1)).toEqual([
      `podbox: cannot pull ${reg.host}/team/known:2 from ${reg.host}: manifest unknown: no tag "2" in team/known: check the tag or digest`,
    ]);
    const repo = await h.run(['image', 'pull', '-q', `${reg.host}/team/nothing:1`]);
    expect(repo.exitCode).toBe(1);
    expect(repo.stderr).toBe(
      `podbox: cannot pull ${reg.host}/team/nothing:1 from ${reg.host}: manifest unknown: no tag "1" in team/nothing: check the tag or digest`,
    );
  });

  it('picks the platform from an index: this host by default, --platform to choose', async () => {
    const p = await pushImage(reg.host, 'multi/app:1', { platforms: ['linux/amd64', 'linux/arm64'] });
    const host = process.arch === 'arm64' ? 1 : 0;
    const d = await h.run(['image', 'pull', '-q', `${reg.host}/multi/app:1`]);
    expect(d.stdout).toBe(p.ids[host]);
    const other = await h.run([
      'image',
      'pull',
      '-q',
      '--platform',
      `linux/${host ? 'amd64' : 'arm64'}`,
      `${reg.host}/multi/app:1`,
    ]);
    expect(other).toEqual({ exitCode: 0, stdout: p.ids[1 - host], stderr: '' });
    const img = await h.inspect(other.stdout);
    expect(readFileSync(join(img.rootfs, 'platform'), 'utf8')).toBe(`linux/${host ? 'amd64' : 'arm64'}\n`);
    const none = await h.run(['image', 'pull', '-q', '--platform', 'linux/s390x', `${reg.host}/multi/app:1`]);
    expect(none.stderr).toBe(
      `podbox: cannot pull ${reg.host}/multi/app:1 from ${reg.host}: it has no image for linux/s390x (it has linux/amd64, linux/arm64): choose one of its platforms with --platform, or another image`,
    );
  });

  it('pulls zstd and uncompressed layers', async () => {
    for (const compression of ['zstd', 'none'] as const) {
      const p = await pushImage(reg.host, `comp/${compression}:1`, {
        compression,
        layers: [[{ path: 'data', content: `${compression} layer\n` }]],
      });
      const r = await h.run(['image', 'pull', '-q', `${reg.host}/comp/${compression}:1`]);
      expect(r).toEqual({ exitCode: 0, stdout: p.ids[0], stderr: '' });
      expect(readFileSync(join((await h.inspect(r.stdout)).rootfs, 'data'), 'utf8')).toBe(`${compression} layer\n`);
    }
  });

  it('refuses a tampered blob and keeps nothing of it', async () => {
    const p = await pushImage(reg.host, 'bad/app:1', {
      layers: [[{ path: 'x', content: randomBytes(4000).toString('hex') }]],
    });
    const layer = p.layers[0]!;
    const data = join(reg.storage, 'docker/registry/v2/blobs/sha256', hexOf(layer).slice(0, 2), hexOf(layer), 'data');
    const bytes = readFileSync(data);
    bytes[bytes.length - 20] ^= 0xff;
    writeFileSync(data, bytes);
    const before = h.leftovers().images;
    const r = await h.run(['image', 'pull', '-q', `${reg.host}/bad/app:1`]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^podbox: cannot pull ${reg.host}/bad/app:1 from ${reg.host}: blob ${layer} has digest sha256:[a-f0-9]{64}: the registry or a proxy served other content than asked for; pull again, and tell the registry owner if it persists$`,
      ),
    );
    expect(h.leftovers()).toEqual({ images: before, tmp: [] });
    expect(blobFiles().filter((f) => f.startsWith(hexOf(layer)))).toEqual([]);
  });

  it('fails cleanly when the registry goes away mid-pull, and the next pull resumes the layer with a Range', async () => {
    const p = await pushImage(reg.host, 'big/app:1', {
      compression: 'none',
      layers: [[{ path: 'big', content: randomBytes(8 << 20) }]],
    });
    // A proxy that serves half of the layer, then goes away with its port (the registry "stopped").
    const dying = await proxy(reg.host, { dieAfter: 4 << 20 });
    const r = await h.run(['image', 'pull', '-q', `${dying.host}/big/app:1`]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(
      `podbox: cannot pull ${dying.host}/big/app:1 from ${dying.host}: registry unreachable (connection refused): check the registry address and the network; a mirror can be configured for it`,
    );
    expect(h.leftovers().tmp).toEqual([]);
    expect((await h.json()).some((i) => i.id === p.ids[0])).toBe(false);
    expect(blobFiles()).toContain(`${hexOf(p.layers[0]!)}.partial`);

    const second = await proxy(reg.host);
    others.push(second);
    const ok = await h.run(['image', 'pull', '-q', `${second.host}/big/app:1`]);
    expect(ok).toEqual({ exitCode: 0, stdout: p.ids[0], stderr: '' });
    const range = second.seen.find((s) => s.path.endsWith(p.layers[0]!))?.range;
    expect(range).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(range!)![0])).toBeGreaterThanOrEqual(1 << 20);
    expect(blobFiles().filter((f) => f.startsWith(hexOf(p.layers[0]!)))).toEqual([hexOf(p.layers[0]!)]);
  });

  it('on a terminal: a bar per layer with its bytes, each replaced by one done line; -q shows nothing', async () => {
    const p = await pushImage(reg.host, 'tty/app:1', {
      compression: 'none',
      layers: [1, 2].map((i) => [{ path: `f${i}`, content: randomBytes(1_500_000) }]),
    });
    const slow = await proxy(reg.host, { bytesPerSecond: 1_500_000 });
    others.push(slow);
    const ref = `${slow.host}/tty/app:1`;
    // util-linux script(1) runs the pull on a pseudo-terminal and copies what it writes there.
    const r = await execa('script', ['-qfec', `"$PODBOX" image pull ${ref}`, '/dev/null'], {
      env: { ...h.env, PODBOX, SHELL: '/bin/sh' },
      reject: false,
      timeout: 60_000,
    });
    expect(r.exitCode).toBe(0);
    const out = String(r.stdout);
    // While downloading: each layer's bar with bytes done, the total and the speed.
    for (const l of p.layers)
      expect(out).toMatch(
        new RegExp(`Copying blob ${short(l)} \\[[= ]{24}\\] \\d+\\.\\d[kM]B / 1\\.5MB \\d+\\.\\d[kM]B/s`),
      );
    // At the end, the screen holds one line per layer (in the order they finished), no bar.
    const screen = terminalScreen(out);
    expect([screen[0], screen.slice(1, 3).sort(), screen.slice(3)]).toEqual([
      `Trying to pull ${ref}...`,
      p.layers.map((l) => `Copying blob ${short(l)} done (1.5MB)`).sort(),
      ['Writing manifest to image destination', p.ids[0]],
    ]);
    expect((await h.run(['image', 'rm', p.ids[0]!])).exitCode).toBe(0);

    const quiet = await execa('script', ['-qfec', `"$PODBOX" image pull -q ${ref}`, '/dev/null'], {
      env: { ...h.env, PODBOX, SHELL: '/bin/sh' },
      reject: false,
      timeout: 60_000,
    });
    expect([quiet.exitCode, terminalScreen(String(quiet.stdout))]).toEqual([0, [p.ids[0]]]);
  });

  it('the registry killed mid-pull and started again: the next pull resumes with a Range', async () => {
    const r2 = await startRegistry();
    others.push(r2);
    const p = await pushImage(r2.host, 'halt/app:1', {
      compression: 'none',
      layers: [[{ path: 'big', content: randomBytes(24 << 20) }]],
    });
    // Slowed by a proxy that stays up, so the registry behind it can be killed while a layer is half
    // sent. Large enough that what the sockets' buffers hold when it dies (a few MiB) is not the rest.
    let halted: Promise<void> | undefined;
    const slow = await proxy(r2.host, {
      bytesPerSecond: 16 << 20,
      onBlobBytes: (sent) => {
        if (sent >= 2 << 20) halted ??= r2.halt();
      },
    });
    others.push(slow);
    const ref = `${slow.host}/halt/app:1`;
    const failed = await h.run(['image', 'pull', '-q', ref]);
    await halted;
    expect([failed.exitCode, failed.stdout]).toEqual([1, '']);
    expect(failed.stderr).toMatch(
      new RegExp(
        `^podbox: cannot pull ${ref} from ${slow.host}: registry unreachable \\(.*\\): check the registry address`,
      ),
    );
    expect(h.leftovers().tmp).toEqual([]);
    expect(blobFiles()).toContain(`${hexOf(p.layers[0]!)}.partial`);

    await r2.restart();
    const before = slow.seen.length;
    const ok = await h.run(['image', 'pull', '-q', ref]);
    expect(ok).toEqual({ exitCode: 0, stdout: p.ids[0], stderr: '' });
    const range = slow.seen.slice(before).find((s) => s.path.endsWith(p.layers[0]!))?.range;
    expect(Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1])).toBeGreaterThanOrEqual(1 << 20);
    expect(blobFiles().filter((f) => f.startsWith(hexOf(p.layers[0]!)))).toEqual([hexOf(p.layers[0]!)]);
  });

  it('two pulls of one image at once fetch each layer once', async () => {
    const p = await pushImage(reg.host, 'two/app:1', {
      layers: [1, 2, 3].map((i) => [{ path: `f${i}`, content: randomBytes(300_000) }]),
    });
    const run = () =>
      execa(PODBOX, ['image', 'pull', '-q', `${reg.host}/two/app:1`], { env: h.env, reject: false, timeout: 60_000 });
    const [a, b] = await Promise.all([run(), run()]);
    expect([a.exitCode, a.stdout, a.stderr]).toEqual([0, p.ids[0], '']);
    expect([b.exitCode, b.stdout, b.stderr]).toEqual([0, p.ids[0], '']);
    expect(p.layers.map((l) => blobGets(reg, l))).toEqual([1, 1, 1]);
    expect(h.leftovers().tmp).toEqual([]);
  });

  it('verifies TLS with the CA given in SSL_CERT_FILE', async () => {
    const tls = await startRegistry({ tls: true });
    others.push(tls);
    const p = await pushImage(tls.host, 'sec/app:1');
    const bare = await h.run(['image', 'pull', '-q', `${tls.host}/sec/app:1`]);
    expect(bare.exitCode).toBe(1);
    expect(bare.stderr).toMatch(
      new RegExp(
        `^podbox: cannot pull ${tls.host}/sec/app:1 from ${tls.host}: TLS certificate not trusted \\(.*certificate.*\\): if the registry uses a private CA, point SSL_CERT_FILE or NODE_EXTRA_CA_CERTS at its certificate$`,
      ),
    );
    const withCa = await execa(PODBOX, ['image', 'pull', '-q', `${tls.host}/sec/app:1`], {
      env: { ...h.env, SSL_CERT_FILE: tls.caFile! },
      reject: false,
    });
    expect([withCa.exitCode, withCa.stdout, withCa.stderr]).toEqual([0, p.ids[0], '']);
  });

  for (const auth of ['basic', 'token'] as const) {
    it(`${auth} auth: refused without or with a wrong password, pulled with the right one`, async () => {
      const r = await startRegistry({ auth });
      others.push(r);
      const p = await pushImage(r.host, 'priv/app:1', { creds: `${r.user}:${r.password}` });
      const authFile = join(work, `auth-${auth}.json`);
      const pull = (password?: string) => {
        if (password)
          writeFileSync(
            authFile,
            JSON.stringify({ auths: { [r.host]: { auth: Buffer.from(`${r.user}:${password}`).toString('base64') } } }),
          );
        else rmSync(authFile, { force: true });
        return execa(PODBOX, ['image', 'pull', '-q', `${r.host}/priv/app:1`], {
          env: { ...h.env, REGISTRY_AUTH_FILE: authFile },
          reject: false,
        });
      };
      const refused = `podbox: cannot pull ${r.host}/priv/app:1 from ${r.host}: access denied (the repository may not exist, or needs credentials): check the name; if it is private, log in with \`podbox login ${r.host}\` or give the pod an imagePullSecret`;
      for (const pw of [undefined, 'wrong']) {
        const bad = await pull(pw);
        expect([bad.exitCode, bad.stdout, bad.stderr]).toEqual([1, '', refused]);
      }
      const ok = await pull(r.password);
      expect([ok.exitCode, ok.stdout, ok.stderr]).toEqual([0, p.ids[0], '']);
    });
  }
});

/**
 * An HTTP proxy to the registry that records each request's path and Range header. With
 * `dieAfter`, it cuts the first blob response after that many bytes and closes its port, as a
 * registry that stops mid-pull; with `bytesPerSecond`, it sends blobs at about that rate, and
 * `onBlobBytes` hears how much of a blob it sent.
 */
async function proxy(
  target: string,
  opts: { dieAfter?: number; bytesPerSecond?: number; onBlobBytes?: (sent: number) => void } = {},
): Promise<{ host: string; seen: { path: string; range?: string }[]; stop(): Promise<void> }> {
  const seen: { path: string; range?: string }[] = [];
  const sockets = new Set<import('node:net').Socket>();
  let server: Server;
  const stop = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', range: req.headers.range });
    const up = request(`http://${target}${req.url}`, { method: req.method, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      let sent = 0;
      const cut =
        opts.dieAfter !== undefined &&
        /\/blobs\//.test(req.url ?? '') &&
        Number(ur.headers['content-length']) > opts.dieAfter;
      ur.on('data', (c: Buffer) => {
        if (cut && sent + c.length > opts.dieAfter!) {
          ur.destroy();
          void stop();
          return;
        }
        sent += c.length;
        res.write(c);
        if (/\/blobs\//.test(req.url ?? '')) opts.onBlobBytes?.(sent);
        if (opts.bytesPerSecond && /\/blobs\//.test(req.url ?? '')) {
          // Slowed down, so that a download lasts long enough for a terminal to show its progress.
          ur.pause();
          setTimeout(() => ur.resume(), (c.length / opts.bytesPerSecond) * 1000);
        }
      });
      ur.on('end', () => res.end());
      // The registry went away in the middle: so does this answer (no clean end of a short body).
      ur.on('aborted', () => res.destroy());
      ur.on('error', () => res.destroy());
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  void until;
  return { host, seen, stop };
}
