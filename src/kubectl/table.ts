export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3)))
          .join('')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/**
 * Go's text/tabwriter as kubectl's tabbedString sets it up (minwidth 0, padding 2, padding with
 * spaces, no flags). A tab ends a cell; the last cell of a line is not in any column. A column
 * block is a run of adjacent lines that all have a cell in that column: its cells are padded to
 * the widest plus `padding`. A line without a tab ends every block, which is why each section of
 * `kubectl describe` is aligned on its own.
 */
export function tabwrite(text: string, padding = 2): string {
  const trailingNewline = text.endsWith('\n');
  const lines = (trailingNewline ? text.slice(0, -1) : text).split('\n').map((l) => l.split('\t'));
  const width = (s: string) => [...s].length; // runes, as utf8.RuneCountInString
  const out: string[] = [];
  const emit = (from: number, to: number, widths: number[]) => {
    for (let i = from; i < to; i++) {
      out.push(
        lines[i]!.map((cell, j) =>
          j < widths.length ? cell + ' '.repeat(Math.max(0, widths[j]! - width(cell))) : cell,
        ).join(''),
      );
    }
  };
  const format = (line0: number, line1: number, widths: number[]) => {
    const column = widths.length;
    for (let i = line0; i < line1; i++) {
      if (column >= lines[i]!.length - 1) continue;
      emit(line0, i, widths);
      line0 = i;
      let w = 0;
      for (; i < line1 && column < lines[i]!.length - 1; i++) w = Math.max(w, width(lines[i]![column]!) + padding);
      format(line0, i, [...widths, w]);
      line0 = i;
    }
    emit(line0, line1, widths);
  };
  format(0, lines.length, []);
  return out.join('\n') + (trailingNewline ? '\n' : '');
}
