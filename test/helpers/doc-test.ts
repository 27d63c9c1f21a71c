/**
 * The doc test's reading of a tutorial page (docs/learn/README.md states these rules for writers):
 *
 *  - Only fenced blocks whose info string is `console` are run. In one, a line `$ COMMAND` is a command and
 *    the lines after it, up to the next `$ ` line or the end of the block, are its expected output
 *    (stdout and stderr as one terminal shows them). Blank lines at the end of an output do not count.
 *  - Expected output is compared line by line. Spaces at either end of a line do not count, and a run of
 *    spaces matches any run of spaces (so table columns may widen with their values).
 *  - A line that is only `...` matches any number of lines, none included; `...` inside a line matches
 *    any text on that line.
 *  - Placeholders match the variable parts: `<pid>`, `<inode>`, `<uid>` and `<n>` a number, `<age>` a
 *    kubectl age (`6s`, `2m3s`), `<word>` anything without spaces. Any other `<...>` is literal text.
 *  - A placeholder with a label, `<inode:net>`, must stand for the same text wherever it appears in one
 *    page, and two labels of one kind for different texts: how a page says "the same inode" or "another pid".
 */

export interface DocCommand {
  command: string;
  expected: string[];
  /** 1-based line of the `$ ` line in its file, for messages. */
  line: number;
}

export function consoleCommands(markdown: string): DocCommand[] {
  const out: DocCommand[] = [];
  let inConsole = false;
  let inOther = false;
  markdown.split('\n').forEach((text, i) => {
    const fence = /^```(.*)$/.exec(text);
    if (fence) {
      if (inConsole || inOther) {
        inConsole = inOther = false;
      } else if (fence[1]!.trim() === 'console') {
        inConsole = true;
      } else {
        inOther = true;
      }
      return;
    }
    if (!inConsole) return;
    if (text.startsWith('$ ')) {
      out.push({ command: text.slice(2), expected: [], line: i + 1 });
    } else if (out.length === 0 || text.startsWith('$')) {
      throw new Error(`line ${i + 1}: a console block must start with a "$ " command line`);
    } else {
      out.at(-1)!.expected.push(text);
    }
  });
  return out;
}

const KINDS: Record<string, string> = {
  pid: '\\d+',
  inode: '\\d+',
  uid: '\\d+',
  n: '\\d+',
  age: '\\d+(?:ms|[smhd])(?:\\d+[smh])?',
  word: '\\S+',
};
const PLACEHOLDER = new RegExp(`<(${Object.keys(KINDS).join('|')})(?::([\\w-]+))?>`, 'g');

interface LinePattern {
  regex: RegExp;
  /** The label key (`inode:net`) of each capture group, in order; undefined for an unlabelled one. */
  labels: (string | undefined)[];
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function literal(s: string): string {
  return s
    .split('...')
    .map((part) => escape(part).replace(/\s+/g, '\\s+'))
    .join('.*?');
}

function linePattern(line: string): LinePattern {
  const labels: (string | undefined)[] = [];
  let source = '';
  let last = 0;
  const text = line.trim();
  for (const m of text.matchAll(PLACEHOLDER)) {
    source += literal(text.slice(last, m.index)) + `(${KINDS[m[1]!]})`;
    labels.push(m[2] === undefined ? undefined : `${m[1]}:${m[2]}`);
    last = m.index! + m[0].length;
  }
  source += literal(text.slice(last));
  return { regex: new RegExp(`^${source}$`), labels };
}

/** Binds a label to a value unless that breaks a binding already made; a new map, or undefined. */
function bind(bound: Map<string, string>, label: string, value: string): Map<string, string> | undefined {
  const had = bound.get(label);
  if (had !== undefined) return had === value ? bound : undefined;
  const kind = label.split(':')[0]!;
  for (const [other, v] of bound) if (other.split(':')[0] === kind && v === value) return undefined;
  return new Map(bound).set(label, value);
}

function matchLine(p: LinePattern, actual: string, bound: Map<string, string>): Map<string, string> | undefined {
  const m = p.regex.exec(actual.trim());
  if (!m) return undefined;
  let b: Map<string, string> | undefined = bound;
  p.labels.forEach((label, i) => {
    if (b && label) b = bind(b, label, m[i + 1]!);
  });
  return b;
}

/**
 * Matches `actual` (a command's output, lines) against the expected lines, with the labels bound so far
 * on the page; returns the bindings extended by this output, or undefined when it does not match.
 */
export function matchOutput(
  expected: string[],
  actual: string[],
  bound: Map<string, string> = new Map(),
): Map<string, string> | undefined {
  const patterns = expected.map((e) => (e.trim() === '...' ? 'any' : linePattern(e)));
  const go = (i: number, j: number, b: Map<string, string>): Map<string, string> | undefined => {
    if (i === patterns.length) return j === actual.length ? b : undefined;
    const p = patterns[i]!;
    if (p === 'any') {
      for (let k = j; k <= actual.length; k++) {
        const r = go(i + 1, k, b);
        if (r) return r;
      }
      return undefined;
    }
    if (j === actual.length) return undefined;
    const next = matchLine(p, actual[j]!, b);
    return next && go(i + 1, j + 1, next);
  };
  return go(0, 0, bound);
}
