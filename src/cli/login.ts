import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { PodboxError } from '../errors.js';
import { authFilePath, dockerConfigPath, readConfigFile, removeLogin, storeLogin } from '../registry/auth-file.js';
import { loginKey, verifyLogin } from '../registry/login.js';

/**
 * `podbox login REGISTRY` and `podbox logout REGISTRY|--all` (docs/cli.md, "podbox login"), as podman
 * has them: credentials checked against the registry, then kept in podman's auth.json, so podman
 * and podbox share logins. Output as podman prints it: "Login Succeeded!", "Removed login
 * credentials for REGISTRY".
 */
export function registerLogin(program: Command): void {
  program
    .command('login')
    .description("log in to a container registry (credentials kept in podman's auth.json)")
    .argument('<registry>', 'host[:port], e.g. ghcr.io, docker.io, 127.0.0.1:5000')
    .option('-u, --username <user>', 'the user name (asked on a terminal when not given)')
    .option(
      '-p, --password <password>',
      'the password: visible to `ps` and kept in shell history, prefer --password-stdin',
    )
    .option('--password-stdin', 'read the password (or token) from stdin')
    .option('--insecure', 'allow plain http to the registry')
    .action(async (registry: string, opts: LoginOptions) => {
      const key = loginKey(registry);
      const { username, password } = await credentialsFrom(opts);
      await verifyLogin(key.split('/')[0]!, username, password, { insecure: opts.insecure });
      storeLogin(key, username, password);
      process.stdout.write('Login Succeeded!\n');
    });

  program
    .command('logout')
    .description("remove the login of a container registry from podman's auth.json")
    .argument('[registry]', 'host[:port] given to `podbox login`')
    .option('-a, --all', 'remove the logins of all registries')
    .action((registry: string | undefined, opts: { all?: boolean }) => {
      if (opts.all) {
        removeLogin(undefined);
        process.stdout.write('Removed login credentials for all registries\n');
        return;
      }
      if (registry === undefined)
        throw new PodboxError('InvalidArgument', 'no registry to log out of', 'name one, or use --all');
      const key = loginKey(registry);
      if (removeLogin(key).length === 0) {
        const inDocker = readConfigFile(dockerConfigPath())?.auths?.[key] !== undefined;
        throw new PodboxError(
          'InvalidArgument',
          `not logged into ${key} (no entry in ${authFilePath()})`,
          inDocker
            ? `the credentials in ${dockerConfigPath()} came from \`docker login\`: use \`docker logout ${key}\``
            : 'nothing to do',
        );
      }
      process.stdout.write(`Removed login credentials for ${key}\n`);
    });
}

interface LoginOptions {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  insecure?: boolean;
}

/**
 * The username and password from the flags, stdin or the terminal, as `docker login` takes them
 * (docker/cli cli/command/registry/login.go verifyloginOptions, and ConfigureAuth's prompts).
 */
async function credentialsFrom(opts: LoginOptions): Promise<{ username: string; password: string }> {
  const usage = (what: string, hint: string) => new PodboxError('InvalidArgument', what, hint);
  if (opts.password !== undefined && opts.passwordStdin)
    throw usage('--password and --password-stdin are mutually exclusive', 'give the password one way');
  if (opts.passwordStdin && !opts.username) throw usage('--password-stdin needs --username', 'add -u USER');
  if (opts.password !== undefined)
    process.stderr.write(
      'podbox: warning: a password given with --password is visible to other users (ps) and kept in shell ' +
        'history; use --password-stdin\n',
    );
  const tty = !!process.stdin.isTTY;
  let username = opts.username;
  if (username === undefined) {
    if (!tty) throw usage('cannot ask for a username: stdin is not a terminal', 'use -u USER --password-stdin');
    username = (await prompt('Username: ', true)).trim();
  }
  let password = opts.password;
  if (opts.passwordStdin) password = (await readStdin()).replace(/\n$/, '').replace(/\r$/, '');
  else if (password === undefined) {
    if (!tty) throw usage('cannot ask for the password: stdin is not a terminal', 'use --password-stdin');
    password = await prompt('Password: ', false);
  }
  if (username === '') throw usage('the username is empty', 'give one with -u USER');
  if (password === '') throw usage('the password is empty', 'give one (for a token, the token is the password)');
  return { username, password };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** One line from the terminal; with `echo` false nothing typed is shown (the prompt is, on stderr). */
async function prompt(question: string, echo: boolean): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.on('SIGINT', () => {
        rl.close();
        process.stderr.write('\n');
        process.exit(130);
      });
      rl.question(question, resolve);
      muted = !echo;
    });
  } finally {
    rl.close();
    if (!echo) process.stderr.write('\n');
  }
}
