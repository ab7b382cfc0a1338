import { fetchAdminJson } from '../admin/admin-client.js';
import type { ClusterStatus } from '../admin/clusters-status.js';
import type { ConfigDump } from '../admin/config-dump.js';
import { isMeshletError } from '../errors/meshlet-error.js';
import { parseArgs, type OptionSpec, usage, jsonAndTimeout } from './args.js';
import { EXIT } from './exit-codes.js';
import type { CliCommand, CliIO } from './io.js';
import { PROXY_CONFIG_HELP } from './proxy-config-help.js';
import { renderTable, type Cell } from './table.js';
import type { ListenerRow } from './listeners-view.js';
import { renderRoutesTable } from './routes-table.js';
import type { SecretDump } from '../admin/secrets-dump.js';
import { SECRET_COLUMNS, secretRows } from './secrets-table.js';

const OPTIONS: readonly OptionSpec[] = [
  { name: 'output', short: 'o', value: true },
  { name: 'timeout', value: true },
  { name: 'help', short: 'h', value: false },
];

const TYPES = ['routes', 'clusters', 'endpoints', 'listeners', 'secret'] as const;
type ConfigType = (typeof TYPES)[number];

const cmp = (a: string | number, b: string | number): number => (a < b ? -1 : a > b ? 1 : 0);

/** istioctl proxy-config clusters rows (istioctl/pkg/writer/envoy/clusters), sorted by FQDN, port, subset. */
export function clusterRows(dump: ConfigDump): Cell[][] {
  const sorted = [...dump.clusters].sort(
    (a, b) => cmp(a.host, b.host) || a.port - b.port || cmp(a.subset ?? '', b.subset ?? ''),
  );
  const rows: Cell[][] = sorted.map((c) => [
    { text: c.host },
    { text: String(c.port) },
    { text: c.subset ?? '-' },
    { text: c.direction },
    { text: c.type },
    {
      text: c.destinationRules[0] ?? '-',
      ...(c.destinationRules.length > 0 ? { style: 'cyan' as const } : {}),
    },
  ]);
  // The two clusters every sidecar has: unknown hosts go to one or the other per outboundTrafficPolicy.
  rows.push(
    [
      { text: 'BlackHoleCluster' },
      { text: '-' },
      { text: '-' },
      { text: '-' },
      { text: 'STATIC' },
      { text: '-' },
    ],
    [
      { text: 'PassthroughCluster' },
      { text: '-' },
      { text: '-' },
      { text: '-' },
      { text: 'ORIGINAL_DST' },
      { text: '-' },
    ],
  );
  return rows;
}

/** istioctl proxy-config endpoints rows: one per host of each cluster, sorted by endpoint then cluster. */
export function endpointRows(statuses: readonly ClusterStatus[]): Cell[][] {
  const rows: { endpoint: string; cluster: string; failed: boolean }[] = [];
  for (const c of statuses) {
    for (const h of c.host_statuses) {
      const a = h.address.socket_address;
      rows.push({
        endpoint: `${a.address}:${a.port_value}`,
        cluster: c.name,
        failed: h.health_status.failed_outlier_check,
      });
    }
  }
  rows.sort((a, b) => cmp(a.endpoint, b.endpoint) || cmp(a.cluster, b.cluster));
  return rows.map((r) => [
    { text: r.endpoint },
    { text: 'HEALTHY', style: 'green' },
    r.failed ? { text: 'FAILED', style: 'red' } : { text: 'OK' },
    { text: r.cluster },
  ]);
}

async function show(
  type: ConfigType,
  url: string,
  json: boolean,
  timeoutMs: number,
  io: CliIO,
): Promise<number> {
  const print = (value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  if (type === 'endpoints') {
    const r = await fetchAdminJson<{ cluster_statuses: ClusterStatus[] }>(url, '/clusters?format=json', {
      timeoutMs,
    });
    if (!r.ok) return fail(io, url, r.error);
    const statuses = r.value.cluster_statuses ?? [];
    if (json) print(statuses);
    else
      io.stdout(renderTable(['ENDPOINT', 'STATUS', 'OUTLIER CHECK', 'CLUSTER'], endpointRows(statuses), io));
    return EXIT.ok;
  }
  const r = await fetchAdminJson<ConfigDump>(url, '/config_dump', { timeoutMs });
  if (!r.ok) return fail(io, url, r.error);
  const dump = r.value;
  if (!Array.isArray(dump.clusters) || typeof dump.routeTable !== 'object')
    return fail(io, url, '/config_dump is not a meshlet config dump');
  if (type === 'routes') {
    if (json) print(dump.routeTable);
    else io.stdout(renderRoutesTable(dump.routeTable, io));
    return EXIT.ok;
  }
  if (type === 'secret') {
    // An instance older than this command has no secrets in its dump.
    const secrets = dump.secrets as readonly SecretDump[] | undefined;
    if (secrets === undefined)
      return fail(io, url, '/config_dump has no secrets (a meshlet older than proxy-config secret)');
    if (json) print(secrets);
    else if (secrets.length === 0) io.stdout('No secret items to show.\n');
    else io.stdout(renderTable([...SECRET_COLUMNS], secretRows(secrets), io));
    return EXIT.ok;
  }
  if (type === 'listeners') {
    // An instance older than this command has no listeners in its dump.
    const listeners = dump.listeners as readonly ListenerRow[] | undefined;
    if (listeners === undefined)
      return fail(io, url, '/config_dump has no listeners (a meshlet older than proxy-config listeners)');
    if (json) print(listeners);
    else
      io.stdout(
        renderTable(
          ['ADDRESS', 'PORT', 'MATCH', 'DESTINATION'],
          listeners.map((l) => [
            { text: l.address },
            { text: String(l.port) },
            { text: l.match },
            { text: l.destination },
          ]),
          io,
        ),
      );
    return EXIT.ok;
  }
  if (json) print(dump.clusters);
  else
    io.stdout(
      renderTable(
        ['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE'],
        clusterRows(dump),
        io,
      ),
    );
  return EXIT.ok;
}

function fail(io: CliIO, url: string, error: string): number {
  io.stderr(`Error: cannot read ${url}: ${error}\n`);
  return EXIT.failure;
}

/**
 * `meshlet proxy-config routes|clusters|endpoints|listeners|secret <admin url> [-o json]`: what a running
 * instance uses, read from its admin server, in istioctl proxy-config's columns.
 */
export const runProxyConfig: CliCommand = async (argv, io) => {
  let type: ConfigType;
  let url: string;
  let json: boolean;
  let timeoutMs: number;
  try {
    const args = parseArgs(argv, OPTIONS);
    if (args.options.has('help')) {
      io.stdout(PROXY_CONFIG_HELP);
      return EXIT.ok;
    }
    ({ json, timeoutMs } = jsonAndTimeout(args));
    const [first, second, ...extra] = args.positionals;
    // istioctl takes `secret` and its plural.
    const given = first === 'secrets' ? 'secret' : first;
    if (given === undefined || !(TYPES as readonly string[]).includes(given))
      throw usage(
        `give a type: ${TYPES.join(', ')}${first === undefined ? '' : ` (got ${JSON.stringify(first)})`}`,
      );
    if (second === undefined) throw usage('give the admin URL of the instance, e.g. 127.0.0.1:15000');
    if (extra.length > 0) throw usage(`one admin URL at a time (got ${extra.length + 1})`);
    type = given as ConfigType;
    url = second;
  } catch (err) {
    if (!isMeshletError(err)) throw err;
    io.stderr(`Error: ${err.message}\n\n${PROXY_CONFIG_HELP}`);
    return EXIT.usage;
  }
  return show(type, url, json, timeoutMs, io);
};
