import { paint, type CliIO } from './io.js';

/** One table cell; `style` colours it only when `io.color`. */
export interface Cell {
  readonly text: string;
  readonly style?: 'cyan' | 'yellow' | 'dim' | 'green' | 'red' | undefined;
}

/**
 * An istioctl-style table: upper-case headers, columns padded to the widest cell
 * plus three spaces, widths computed on the plain text so colour never shifts them.
 */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly Cell[])[],
  io: CliIO,
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.text.length ?? 0)));
  const line = (cells: readonly Cell[]): string =>
    cells
      .map((c, i) => {
        const pad = i === cells.length - 1 ? '' : ' '.repeat((widths[i] ?? 0) - c.text.length + 3);
        return (c.style === undefined ? c.text : paint(io, c.style, c.text)) + pad;
      })
      .join('')
      .trimEnd();
  const header = line(headers.map((h) => ({ text: h })));
  return `${[io.color ? paint(io, 'bold', header) : header, ...rows.map(line)].join('\n')}\n`;
}
