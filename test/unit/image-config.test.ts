import { describe, expect, it } from 'vitest';
import { applyChanges, imageConfigOf, parseConfigDocument, splitWords } from '../../src/image/config.js';
import { humanAgo, humanSize, imagesTable, imagesJson } from '../../src/cli/image.js';
import { PodboxError } from '../../src/errors.js';
import type { StoredImage } from '../../src/image/store.js';

const D = 'sha256:' + 'c'.repeat(64);

function error(f: () => unknown): PodboxError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PodboxError);
    return e as PodboxError;
  }
  throw new Error('did not throw');
}

describe('image config', () => {
  it('reads the process fields and drops Docker nulls', () => {
    expect(
      imageConfigOf({
        config: {
          Entrypoint: ['/docker-entrypoint.sh'],
          Cmd: ['nginx', '-g', 'daemon off;'],
          Env: ['PATH=/usr/bin', 'A=b=c'],
          WorkingDir: '/srv',
          User: '101:101',
          StopSignal: 'SIGQUIT',
          ExposedPorts: { '80/tcp': {} },
          Labels: { maintainer: 'x' },
          Hostname: '',
          Volumes: null,
          OnBuild: null,
        },
      }),
    ).toEqual({
      Entrypoint: ['/docker-entrypoint.sh'],
      Cmd: ['nginx', '-g', 'daemon off;'],
      Env: ['PATH=/usr/bin', 'A=b=c'],
      WorkingDir: '/srv',
      User: '101:101',
      StopSignal: 'SIGQUIT',
      ExposedPorts: { '80/tcp': {} },
      Labels: { maintainer: 'x' },
    });
    expect(imageConfigOf({ config: { Entrypoint: null, Cmd: null, Env: null, WorkingDir: '', User: '' } })).toEqual({});
    expect(imageConfigOf({ architecture: 'amd64' })).toEqual({});
  });

  it('refuses fields of the wrong type', () => {
    expect(error(() => imageConfigOf({ config: { Cmd: 'sh' } }, 'C')).message).toBe(
      'image config C: config.Cmd must be an array of strings',
    );
    expect(error(() => imageConfigOf({ config: { User: 0 } }, 'C')).code).toBe('InvalidImage');
    expect(error(() => imageConfigOf([], 'C')).message).toBe('image config C: not a JSON object');
  });

  it('parses a whole config document', () => {
    const doc = {
      created: '2024-01-02T03:04:05Z',
      os: 'linux',
      architecture: 'amd64',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [D] },
    };
    expect(parseConfigDocument(Buffer.from(JSON.stringify(doc)), 'C')).toEqual({
      config: { Cmd: ['sh'] },
      created: '2024-01-02T03:04:05Z',
      os: 'linux',
      architecture: 'amd64',
      diffIds: [D],
    });
    expect(error(() => parseConfigDocument('{', 'C')).message).toMatch(/^image config C: not valid JSON/);
    expect(error(() => parseConfigDocument('{"config":{}}', 'C')).message).toBe(
      'image config C: rootfs.diff_ids is missing',
    );
    expect(error(() => parseConfigDocument('{"rootfs":{"type":"layers","diff_ids":["md5:x"]}}', 'C')).message).toBe(
      'image config C: rootfs.diff_ids holds "md5:x", not a sha256 digest',
    );
  });
});

describe('import --change', () => {
  it('applies CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL and STOPSIGNAL in both forms', () => {
    expect(
      applyChanges({}, [
        'CMD=["sh","-c","echo hi"]',
        'ENTRYPOINT /bin/tini --',
        'ENV=PATH=/bin',
        'ENV A=1 B="two words"',
        'ENV LEGACY value with spaces',
        'ENV=PATH=/usr/bin:/bin',
        'WORKDIR=/srv',
        'WORKDIR app',
        'USER=1000:1000',
        'EXPOSE=80 53/udp',
        'LABEL=a=b',
        'STOPSIGNAL=SIGQUIT',
      ]),
    ).toEqual({
      Cmd: ['sh', '-c', 'echo hi'],
      Entrypoint: ['/bin/sh', '-c', '/bin/tini --'],
      Env: ['PATH=/usr/bin:/bin', 'A=1', 'B=two words', 'LEGACY=value with spaces'],
      WorkingDir: '/srv/app',
      User: '1000:1000',
      ExposedPorts: { '80/tcp': {}, '53/udp': {} },
      Labels: { a: 'b' },
      StopSignal: 'SIGQUIT',
    });
  });

  it('takes a shell-form command as Docker does, including JSON that is not a string array', () => {
    expect(applyChanges({}, ['CMD=echo $HOME && sleep 1']).Cmd).toEqual(['/bin/sh', '-c', 'echo $HOME && sleep 1']);
    expect(applyChanges({}, ['CMD=[1,2]']).Cmd).toEqual(['/bin/sh', '-c', '[1,2]']);
    expect(applyChanges({}, ['cmd=[]']).Cmd).toEqual([]);
  });

  it('keeps a value with spaces after ENV=KEY=', () => {
    expect(applyChanges({}, ['ENV=GREETING=hello world']).Env).toEqual(['GREETING=hello world']);
  });

  it('does not change the base config', () => {
    const base = { Env: ['A=1'] };
    applyChanges(base, ['ENV=A=2']);
    expect(base).toEqual({ Env: ['A=1'] });
  });

  it('refuses what it does not know', () => {
    const e = error(() => applyChanges({}, ['RUN=rm -rf /']));
    expect(e.code).toBe('InvalidArgument');
    expect(e.message).toBe("--change 'RUN=rm -rf /': RUN is not supported");
    expect(error(() => applyChanges({}, ['nonsense'])).message).toBe("--change 'nonsense': expected INSTRUCTION=VALUE");
    expect(error(() => applyChanges({}, ['ENV=A'])).message).toBe("--change 'ENV=A': needs KEY=VALUE");
    expect(error(() => applyChanges({}, ['EXPOSE=http'])).message).toBe(
      `--change 'EXPOSE=http': "http" is not a port (PORT[/tcp|udp|sctp])`,
    );
    expect(error(() => applyChanges({}, ['CMD='])).message).toBe("--change 'CMD=': needs a command");
  });

  it('splits words with quotes and escapes', () => {
    expect(splitWords(`a "b c" 'd e' f\\ g`)).toEqual(['a', 'b c', 'd e', 'f g']);
    expect(() => splitWords('"open')).toThrow('unterminated " quote');
  });
});

describe('image ls output', () => {
  const img = (id: string, names: string[], size: number, created?: string): StoredImage => ({
    id: `sha256:${id.repeat(64 / id.length)}`,
    names,
    digests: [],
    rootfs: '/x',
    config: {},
    size,
    created,
  });

  it('prints sizes as podman does (3 significant digits, SI units)', () => {
    expect([0, 999, 1000, 1234, 1_982_259, 123_456_789, 1_000_000_000, 999_999].map(humanSize)).toEqual([
      '0 B',
      '999 B',
      '1 kB',
      '1.23 kB',
      '1.98 MB',
      '123 MB',
      '1 GB',
      '1000 kB',
    ]);
  });

  it('prints ages as podman does', () => {
    const s = 1000,
      m = 60 * s,
      h = 60 * m,
      d = 24 * h;
    expect([500, 1 * s, 30 * s, 61 * s, 5 * m, 70 * m, 3 * h, 3 * d, 20 * d, 90 * d, 800 * d].map(humanAgo)).toEqual([
      'Less than a second ago',
      '1 second ago',
      '30 seconds ago',
      'About a minute ago',
      '5 minutes ago',
      'About an hour ago',
      '3 hours ago',
      '3 days ago',
      '2 weeks ago',
      '3 months ago',
      '2 years ago',
    ]);
  });

  it('has a row per name, <none> for an image without one', () => {
    const now = Date.parse('2024-01-02T06:04:05Z');
    const table = imagesTable(
      [
        img('a', ['docker.io/library/busybox:1', 'localhost:5000/team/app:v1'], 1_982_259, '2024-01-02T03:04:05Z'),
        img('b', [], 999),
      ],
      now,
    );
    expect(table).toBe(
      [
        'REPOSITORY                  TAG      IMAGE ID       CREATED       SIZE',
        'docker.io/library/busybox   1        aaaaaaaaaaaa   3 hours ago   1.98 MB',
        'localhost:5000/team/app     v1       aaaaaaaaaaaa   3 hours ago   1.98 MB',
        '<none>                      <none>   bbbbbbbbbbbb                 999 B',
        '',
      ].join('\n'),
    );
    expect(imagesJson([img('b', [], 999)])).toEqual([
      { id: `sha256:${'b'.repeat(64)}`, names: [], size: 999, created: null },
    ]);
  });
});
