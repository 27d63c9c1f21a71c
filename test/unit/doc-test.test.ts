import { describe, it, expect } from 'vitest';
import { consoleCommands, matchOutput } from '../helpers/doc-test.js';

const page = [
  '# A lesson',
  '```yaml',
  '$ not a command: only console blocks run',
  '```',
  '```console',
  '$ podbox inspect ns',
  'NAMESPACE   pause (<pid:pause>)   a (<pid:a>)',
  '...',
  '$ podbox delete ns',
  'pod "ns" deleted',
  '```',
].join('\n');

describe('the doc test reads a tutorial page', () => {
  it('takes the $ lines of console blocks as commands and the lines after them as their output', () => {
    expect(consoleCommands(page)).toEqual([
      { command: 'podbox inspect ns', expected: ['NAMESPACE   pause (<pid:pause>)   a (<pid:a>)', '...'], line: 6 },
      { command: 'podbox delete ns', expected: ['pod "ns" deleted'], line: 9 },
    ]);
    expect(() => consoleCommands('```console\nno command first\n```')).toThrow(
      'line 2: a console block must start with a "$ " command line',
    );
  });

  it('compares text exactly outside placeholders, a run of spaces matching any run of spaces', () => {
    expect(matchOutput(['pod "ns" deleted'], ['pod "ns" deleted'])).toBeDefined();
    expect(matchOutput(['pod "ns" deleted'], ['pod "nz" deleted'])).toBeUndefined();
    expect(matchOutput(['a  b'], ['  a b   '])).toBeDefined();
    expect(matchOutput(['a b'], ['ab'])).toBeUndefined();
    expect(matchOutput(['one'], ['one', 'two'])).toBeUndefined();
    expect(matchOutput([], [])).toBeDefined();
    expect(matchOutput(['<none>'], ['<none>'])).toBeDefined();
    expect(matchOutput(['<none>'], ['x'])).toBeUndefined();
  });

  it('matches placeholders by kind, and "..." as any lines or any text in a line', () => {
    expect(matchOutput(['pid <pid>, age <age>'], ['pid 4889, age 2m3s'])).toBeDefined();
    expect(matchOutput(['pid <pid>'], ['pid 48a9'])).toBeUndefined();
    expect(matchOutput(['first', '...', 'last'], ['first', 'last'])).toBeDefined();
    expect(matchOutput(['first', '...', 'last'], ['first', 'x', 'y', 'last'])).toBeDefined();
    expect(matchOutput(['first', '...', 'last'], ['first', 'x', 'lost'])).toBeUndefined();
    expect(
      matchOutput(['lrwx ... net -> net:[<inode>]'], ['lrwx 1 root 0 Nov 30 net -> net:[4026532261]']),
    ).toBeDefined();
  });

  it('binds a labelled placeholder to one value, and two labels of one kind to two values', () => {
    const b = matchOutput(['net <inode:net> mnt <inode:mnt-a>'], ['net 11 mnt 12']);
    expect(b).toEqual(
      new Map([
        ['inode:net', '11'],
        ['inode:mnt-a', '12'],
      ]),
    );
    expect(matchOutput(['net <inode:net>'], ['net 11'], b)).toBeDefined();
    expect(matchOutput(['net <inode:net>'], ['net 13'], b)).toBeUndefined();
    expect(matchOutput(['mnt <inode:mnt-b>'], ['mnt 12'], b)).toBeUndefined();
    expect(matchOutput(['mnt <inode:mnt-b>'], ['mnt 14'], b)?.get('inode:mnt-b')).toBe('14');
    // a different kind may hold the same text
    expect(matchOutput(['<pid:a>'], ['11'], b)).toBeDefined();
  });
});
