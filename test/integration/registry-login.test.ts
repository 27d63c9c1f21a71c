import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, makeHome, PODBOX, until } from '../helpers/cli.js';
import { startRegistry } from '../helpers/registry.js';

/**
 * `podbox login/logout` against a real registry: Debian's docker-registry (Docker Distribution) with
 * htpasswd basic auth, on a free 127.0.0.1 port, storage in a temp dir. A private helper while the
 * shared test/helpers/registry.ts is written on another branch.
 */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startBasicAuthRegistry(dir: string, user: string, password: string) {
  const htpasswd = await execa('htpasswd', ['-Bbn', user, password]);
  writeFileSync(join(dir, 'htpasswd'), `${htpasswd.stdout}\n`);
  const port = await freePort();
  const config = [
    'version: 0.1',
    'log: {level: error}',
    `storage: {filesystem: {rootdirectory: ${join(dir, 'data')}}}`,
    `http: {addr: "127.0.0.1:${port}"}`,
    `auth: {htpasswd: {realm: podbox-test, path: ${join(dir, 'htpasswd')}}}`,
  ].join('\n');
  writeFileSync(join(dir, 'config.yml'), config);
  const proc: ResultPromise = execa('docker-registry', ['serve', join(dir, 'config.yml')], { reject: false });
  await until(
    'the registry to answer',
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/v2/`)).status === 401;
      } catch {
        return false;
      }
    },
    20_000,
  );
  return { host: `127.0.0.1:${port}`, stop: async () => (proc.kill('SIGTERM'), await proc) };
}

describe('podbox login / logout against a docker-registry with htpasswd', () => {
  const dir = mkdtempSync(join(tmpdir(), 'podbox-login-'));
  const runtime = join(dir, 'run');
  mkdirSync(runtime, { mode: 0o700 });
  const home = makeHome();
  const c = cli(home, { XDG_RUNTIME_DIR: runtime, HOME: join(dir, 'home'), XDG_CONFIG_HOME: join(dir, 'config') });
  const authFile = join(runtime, 'containers', 'auth.json');
  let registry: Awaited<ReturnType<typeof startBasicAuthRegistry>>;

  beforeAll(async () => {
    registry = await startBasicAuthRegistry(dir, 'tester', 'right-pw');
  }, 30_000);
  afterAll(async () => {
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  it('a wrong password is one line, exit 1, and nothing is stored', async () => {
    const r = await c.run(['login', '-u', 'tester', '--password-stdin', registry.host], { input: 'wrong-pw\n' });
    expect(r).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        `podbox: logging into "${registry.host}": invalid username/password: ` +
        'check them (a token goes in as the password) and try again',
    });
    expect(existsSync(authFile)).toBe(false);
  });

  it('checks the password, stores it as podman does (0600 in a 0700 dir), and logs out', async () => {
    const r = await c.run(['login', '-u', 'tester', '--password-stdin', registry.host], { input: 'right-pw\n' });
    expect(r).toEqual({ exitCode: 0, stdout: 'Login Succeeded!', stderr: '' });
    expect(JSON.parse(readFileSync(authFile, 'utf8'))).toEqual({
      auths: { [registry.host]: { auth: Buffer.from('tester:right-pw').toString('base64') } },
    });
    expect(statSync(authFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(runtime, 'containers')).mode & 0o777).toBe(0o700);

    // A second login (another registry name) keeps the first.
    const again = await c.run(['login', '-u', 'tester', '-p', 'right-pw', `http://${registry.host}/`]);
    expect(again).toEqual({
      exitCode: 0,
      stdout: 'Login Succeeded!',
      stderr:
        'podbox: warning: a password given with --password is visible to other users (ps) and kept in shell ' +
        'history; use --password-stdin',
    });

    expect(await c.run(['logout', registry.host])).toEqual({
      exitCode: 0,
      stdout: `Removed login credentials for ${registry.host}`,
      stderr: '',
    });
    expect(JSON.parse(readFileSync(authFile, 'utf8'))).toEqual({ auths: {} });
    expect(await c.run(['logout', registry.host])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `podbox: not logged into ${registry.host} (no entry in ${authFile}): nothing to do`,
    });
  });

  it('logout --all removes every login and keeps the rest of the file', async () => {
    mkdirSync(join(runtime, 'containers'), { recursive: true, mode: 0o700 });
    writeFileSync(authFile, JSON.stringify({ auths: { 'a.example': { auth: 'eDp5' } }, credHelpers: { b: 'x' } }));
    expect(await c.run(['logout', '--all'])).toEqual({
      exitCode: 0,
      stdout: 'Removed login credentials for all registries',
      stderr: '',
    });
    expect(JSON.parse(readFileSync(authFile, 'utf8'))).toEqual({ auths: {}, credHelpers: { b: 'x' } });
  });

  it('without a terminal, a missing password is one line saying what to do', async () => {
    expect(await c.run(['login', '-u', 'tester', registry.host], { input: '' })).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'podbox: cannot ask for the password: stdin is not a terminal: use --password-stdin',
    });
  });

  it('logout of a registry only docker logged into says so', async () => {
    mkdirSync(join(dir, 'home', '.docker'), { recursive: true });
    writeFileSync(
      join(dir, 'home', '.docker', 'config.json'),
      JSON.stringify({ auths: { 'q.example': { auth: 'eDp5' } } }),
    );
    expect(await c.run(['logout', 'q.example'])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        `podbox: not logged into q.example (no entry in ${authFile}): the credentials in ` +
        `${join(dir, 'home', '.docker', 'config.json')} came from \`docker login\`: use \`docker logout q.example\``,
    });
  });

  it('verifies TLS as pulls do: the CA in SSL_CERT_FILE logs in; without it, even --insecure, fails', async () => {
    const tls = await startRegistry({ tls: true, auth: 'basic' });
    try {
      const login = (env: Record<string, string>, extra: string[] = []) =>
        execa(PODBOX, ['login', '-u', tls.user!, '--password-stdin', ...extra, tls.host], {
          env: { ...c.env, ...env },
          input: `${tls.password}\n`,
          reject: false,
        });
      rmSync(authFile, { force: true });
      // A registry on 127.0.0.1 is insecure by default (plain http allowed), as with --insecure:
      // neither lets a certificate go unverified.
      for (const extra of [[], ['--insecure']]) {
        const bare = await login({}, extra);
        expect([bare.exitCode, bare.stdout]).toEqual([1, '']);
        expect(bare.stderr).toMatch(
          new RegExp(
            `^podbox: logging into "${tls.host}": TLS failed at https://${tls.host}: .*certificate.*: ` +
              'give its CA in SSL_CERT_FILE or NODE_EXTRA_CA_CERTS, ' +
              'or for a registry you trust without TLS use --insecure$',
          ),
        );
        expect(existsSync(authFile)).toBe(false);
      }
      const ok = await login({ SSL_CERT_FILE: tls.caFile! });
      expect([ok.exitCode, ok.stdout, ok.stderr]).toEqual([0, 'Login Succeeded!', '']);
      expect(Object.keys(JSON.parse(readFileSync(authFile, 'utf8')).auths)).toEqual([tls.host]);
    } finally {
      await tls.stop();
    }
  });
});
