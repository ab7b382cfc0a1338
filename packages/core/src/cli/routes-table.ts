import { paint, type CliIO } from './io.js';
import { renderTable, type Cell } from './table.js';
import { shortHost, type RoutesView } from './routes-view.js';

const HEADERS = [
  'NAME',
  'VHOST NAME',
  'DOMAINS',
  'MATCH',
  'DESTINATION',
  'TIMEOUT',
  'RETRIES',
  'FAULT',
  'VIRTUAL SERVICE',
] as const;
type Row = readonly Cell[];

/** istioctl's domain summary: the shortest name, then `+ N more...`. */
function domainsSummary(domains: readonly string[]): string {
  const names = [...new Set(domains.filter((d) => !/:\d+$/.test(d)))].sort((a, b) => a.length - b.length);
  const first = names[0] ?? '';
  return names.length > 1 ? `${first} + ${names.length - 1} more...` : first;
}

/**
 * Renders the route table: one row per route, an `unmatched` row when the
 * VirtualService has no catch-all (404 NR), and the final fallback row. Colour
 * only when `io.color`; widths are computed on the plain text.
 */
export function renderRoutesTable(view: RoutesView, io: CliIO): string {
  const rows: Row[] = [];
  for (const vh of [...(view.gateway ?? []), ...view.virtualHosts]) {
    const base = [
      { text: vh.routeName },
      { text: `${shortHost(vh.host)}:${vh.port}` },
      { text: domainsSummary(vh.domains) },
    ];
    for (const r of vh.routes) {
      const mirrors = r.mirrors.length > 0 ? ` (mirror ${r.mirrors.join(', ')})` : '';
      rows.push([
        ...base,
        { text: r.match.join(' OR ') },
        {
          text: r.action + mirrors,
          style: r.action.startsWith('redirect') || r.action.startsWith('direct') ? 'yellow' : 'green',
        },
        { text: r.timeout === '' ? '-' : r.timeout },
        { text: r.retries === '' ? '-' : r.retries },
        { text: r.fault === '' ? '-' : r.fault, ...(r.fault === '' ? {} : { style: 'yellow' as const }) },
        {
          text: r.virtualService === '' ? '(default)' : r.virtualService,
          style: r.virtualService === '' ? 'dim' : 'cyan',
        },
      ]);
    }
    if (vh.unmatched !== null) {
      rows.push([
        ...base,
        { text: '(anything else)', style: 'dim' },
        { text: vh.unmatched, style: 'yellow' },
        { text: '-' },
        { text: '-' },
        { text: '-' },
        { text: vh.virtualService ?? '', style: 'cyan' },
      ]);
    }
  }
  rows.push([
    { text: '*' },
    { text: 'fallback' },
    { text: view.fallback.domains },
    { text: '/*' },
    { text: view.fallback.action, style: 'dim' },
    { text: '-' },
    { text: '-' },
    { text: '-' },
    { text: '-' },
  ]);
  let out = renderTable(HEADERS, rows, io);
  for (const c of view.conflicts) out += `${paint(io, 'yellow', `Warning: ${c}`)}\n`;
  return out;
}
