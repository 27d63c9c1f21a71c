/**
 * What a terminal shows after it has been written `output` (the bytes a program wrote to a pty):
 * a test-side emulator of the few control sequences progress bars use (cursor moves, line and
 * screen erases, save/restore), kept apart from podbox and its progress library so that a test
 * checks the screen a user ends up with, not the library's calls.
 */
export function terminalScreen(output: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  let saved = { row: 0, col: 0 };
  const line = () => {
    while (lines.length <= row) lines.push('');
    return lines[row]!;
  };
  const put = (s: string) => {
    const l = line().padEnd(col);
    lines[row] = l.slice(0, col) + s + l.slice(col + s.length);
    col += s.length;
  };
  // ESC [ params final | ESC 7 | ESC 8 | \r | \n | text
  const token = /\x1b\[([?\d;]*)([A-Za-z])|\x1b([78])|(\r)|(\n)|([^\x1b\r\n]+)/g;
  for (const m of output.matchAll(token)) {
    const [, params, final, saveRestore, cr, nl, text] = m;
    if (text !== undefined) put(text);
    else if (cr) col = 0;
    else if (nl) {
      row++;
      line();
    } else if (saveRestore === '7') saved = { row, col };
    else if (saveRestore === '8') ({ row, col } = saved);
    else if (final && !params?.startsWith('?')) {
      const n = Number(params?.split(';')[0] || (final === 'J' || final === 'K' ? 0 : 1));
      if (final === 'A') row = Math.max(0, row - n);
      else if (final === 'B') row += n;
      else if (final === 'G') col = n - 1;
      else if (final === 'H') {
        const [r, c] = (params || '1;1').split(';').map(Number);
        row = (r ?? 1) - 1;
        col = (c ?? 1) - 1;
      } else if (final === 'K')
        lines[row] = n === 0 ? line().slice(0, col) : n === 1 ? ' '.repeat(col) + line().slice(col) : '';
      else if (final === 'J' && n === 0) {
        lines[row] = line().slice(0, col);
        lines.length = row + 1;
      }
    }
  }
  const out = lines.map((l) => l.trimEnd());
  while (out.length && out[out.length - 1] === '') out.pop();
  return out;
}
