import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { loginKey, verifyLogin } from '../../src/registry/login.js';
import { parseChallenges } from '../../src/registry/auth-challenge.js';

/** The first challenge of a header, as login reads it. */
const parseChallenge = (h: string | undefined) => parseChallenges(h)[0];

describe('loginKey: the auth.json key podman writes for `login ARG`', () => {
  it.each([
    ['quay.io', 'quay.io'],
    ['https://quay.io/', 'quay.io'],
    ['quay.io/team', 'quay.io/team'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['index.docker.io', 'docker.io'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['[::1]:5000', '[::1]:5000'],
  ])('%s → %s', (arg, key) => {
    expect(loginKey(arg)).toBe(key);
  });
  it.each(['', 'a b', 'quay.io//x', 'http://'])('refuses %j', (arg) => {
    expect(() => loginKey(arg)).toThrow(`"${arg}" is not a registry`);
  });
});

describe('parseChallenge (WWW-Authenticate)', () => {
  it('reads the scheme and quoted or bare parameters', () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="reg.example",scope="a:b:pull"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'reg.example', scope: 'a:b:pull' },
    });
    expect(parseChallenge('Basic realm=podbox')).toEqual({ scheme: 'basic', params: { realm: 'podbox' } });
    expect(parseChallenge(undefined)).toBeUndefined();
  });
});

/**
 * The bearer token flow of a registry that hands out tokens (as Docker Hub and ghcr.io do), played by
 * a small server on 127.0.0.1: /v2/ wants a token, /token gives one for the right basic credentials.
 */
describe('verifyLogin: the bearer token flow', () => {
  let server: Server;
  let host = '';
  const seen: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      seen.push(`${url.pathname}${url.search}`);
      if (url.pathname === '/token') {
        const ok = req.headers.authorization === `Basic ${Buffer.from('me:pw').toString('base64')}`;
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
        res.end(ok ? '{"token":"T0K"}' : '{"errors":[]}');
      } else if (req.headers.authorization === 'Bearer T0K') {
        res.writeHead(200).end('{}');
      } else {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="svc"` }).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('gets a token with the basic credentials and checks /v2/ with it', async () => {
    seen.length = 0;
    await verifyLogin(host, 'me', 'pw');
    expect(seen).toEqual(['/v2/', '/token?service=svc&account=me', '/v2/']);
  });

  it('a token endpoint that refuses them is a wrong password', async () => {
    await expect(verifyLogin(host, 'me', 'nope')).rejects.toThrow(`logging into "${host}": invalid username/password`);
  });
});
