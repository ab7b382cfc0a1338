import { fetchAdminJson, adminBase } from '../admin/admin-client.js';
import type { ConfigDump } from '../admin/config-dump.js';
import type { ServerInfo } from '../admin/server-info.js';
import { hashConfigSources } from '../config/watch.js';
import { isMeshletError } from '../errors/meshlet-error.js';
import { parseArgs, type OptionSpec, usage, jsonAndTimeout } from './args.js';
import { EXIT } from './exit-codes.js';
import { paint, type CliCommand, type CliIO } from './io.js';
import { PROXY_STATUS_HELP } from './proxy-status-help.js';
import { renderTable } from './table.js';

const OPTIONS: readonly OptionSpec[] = [
  { name: 'config', short: 'c', value: true },
  { name: 'output', short: 'o', value: true },
  { name: 'timeout', value: true },
  { name: 'help', short: 'h', value: false },
];

export type SyncStatus = 'SYNCED' | 'STALE' | 'ERROR' | '-';

/** One row of `meshlet proxy-status` (also its JSON shape). */
export interface ProxyStatusRow {
  readonly admin: string;
  readonly name: string;
  readonly configHash: string;
  readonly loadedAt: number | null;
  readonly status: SyncStatus;
  readonly version: string;
  readonly error: string | null;
}

/** istioctl's short ages: `42s`, `5m`, `3h`, `2d`. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

async function statusOf(url: string, expected: string | null, timeoutMs: number): Promise<ProxyStatusRow> {
  const admin = adminBase(url);
  const [info, dump] = await Promise.all([
    fetchAdminJson<ServerInfo>(admin, '/server_info', { timeoutMs }),
    fetchAdminJson<ConfigDump>(admin, '/config_dump', { timeoutMs }),
  ]);
  if (!info.ok || !dump.ok) {
    return {
      admin,
      name: '-',
      configHash: '-',
      loadedAt: null,
      status: 'ERROR',
      version: '-',
      error: info.ok ? (dump as { error: string }).error : info.error,
    };
  }
  const hash = typeof dump.value.configHash === 'string' ? dump.value.configHash : '';
  return {
    admin,
    name: info.value.node?.id ?? '-',
    configHash: hash,
    loadedAt: typeof dump.value.loadedAt === 'number' ? dump.value.loadedAt : null,
    status: expected === null ? '-' : hash === expected ? 'SYNCED' : 'STALE',
    version: info.value.version ?? '-',
    error: null,
  };
}

function render(rows: readonly ProxyStatusRow[], now: number, io: CliIO): string {
  const style = (s: SyncStatus) =>
    s === 'SYNCED' ? 'green' : s === '-' ? undefined : s === 'STALE' ? 'yellow' : 'red';
  const table = renderTable(
    ['NAME', 'ADMIN', 'CONFIG HASH', 'LOADED', 'STATUS', 'VERSION'],
    rows.map((r) => [
      { text: r.name },
      { text: r.admin },
      { text: r.configHash },
      { text: r.loadedAt === null ? '-' : age(now - r.loadedAt) },
      { text: r.status, style: style(r.status) },
      { text: r.version },
    ]),
    io,
  );
  const errors = rows
    .filter((r) => r.error !== null)
    .map((r) => `${paint(io, 'red', 'Error')} ${r.admin}: ${r.error ?? ''}\n`);
  return table + errors.join('');
}

/**
 * `meshlet proxy-status <admin url>... [--config <dir>]`: the config hash each instance
 * runs, SYNCED/STALE against the hash of the given config (computed as the config
 * watcher computes it), ERROR when unreachable.
 */
export const runProxyStatus: CliCommand = async (argv, io) => {
  let urls: readonly string[];
  let sources: readonly string[];
  let json: boolean;
  let timeoutMs: number;
  try {
    const args = parseArgs(argv, OPTIONS);
    if (args.options.has('help')) {
      io.stdout(PROXY_STATUS_HELP);
      return EXIT.ok;
    }
    ({ json, timeoutMs } = jsonAndTimeout(args));
    urls = args.positionals;
    if (urls.length === 0) throw usage('give at least one admin URL, e.g. 127.0.0.1:15000');
    sources = args.options.get('config') ?? [];
  } catch (err) {
    if (!isMeshletError(err)) throw err;
    io.stderr(`Error: ${err.message}\n\n${PROXY_STATUS_HELP}`);
    return EXIT.usage;
  }
  const expected = sources.length === 0 ? null : await hashConfigSources(sources, io.cwd);
  const rows = await Promise.all(urls.map((u) => statusOf(u, expected, timeoutMs)));
  if (json) io.stdout(`${JSON.stringify({ expectedHash: expected, proxies: rows }, null, 2)}\n`);
  else io.stdout(render(rows, Date.now(), io));
  const bad = rows.some((r) => r.status === 'ERROR' || r.status === 'STALE');
  return bad ? EXIT.failure : EXIT.ok;
};
