import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { SecretDump } from './secrets-dump.js';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { MeshPlan } from '../compile/plan-types.js';
import type { WorkloadIdentity } from '../compile/workload.js';
import { clusterStatuses, clustersText, type ClusterStateSource } from './clusters-status.js';
import { configDump, type ConfigInfo } from './config-dump.js';
import type { TelemetryDump } from './telemetry-dump.js';
import { serverInfo, type ServerInfoInput } from './server-info.js';

/** Options of {@link createAdminServer}. */
export interface AdminServerOptions {
  /** The plan in force; read per request, so a reload shows at once. */
  readonly getPlan: () => MeshPlan;
  /** The hash, load time and files of the configuration the plan came from. */
  readonly getConfig: () => ConfigInfo;
  /** The mesh's upstream clusters, for endpoint health and outlier state in `/clusters`. */
  readonly clusters?: ClusterStateSource;
  /** The telemetry in force, for `/config_dump`; absent = null there. */
  readonly getTelemetry?: () => TelemetryDump;
  /** The certificates in use and awaited, for `/config_dump`'s `secrets`; absent = none. */
  readonly getSecrets?: () => readonly SecretDump[];
  /** The metrics registry `/stats/prometheus` exposes; absent = an empty exposition. */
  readonly registry?: Pick<Registry, 'metrics'>;
  readonly serverInfo: {
    readonly version: string;
    readonly workload: WorkloadIdentity;
    /** Epoch ms the process (or mesh) started. */
    readonly startedAt: number;
  };
  /** Whether the app is ready to serve; `/ready` answers 503 while false. Default: always ready. */
  readonly isReady?: () => boolean;
  /** Default `127.0.0.1`: the admin API is never exposed beyond loopback unless asked. */
  readonly host?: string;
  /** Default 0 (any free port); Envoy's admin port is 15000. */
  readonly port?: number;
  /** Epoch ms now, for uptime; default `Date.now`. */
  readonly now?: () => number;
}

export interface AdminServer {
  /** Start listening; resolves with the bound port. */
  listen(): Promise<{ readonly port: number }>;
  /** Stop listening and drop open connections. Idempotent. */
  close(): Promise<void>;
}

const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Read-only endpoints with Envoy's help text (source/server/admin/admin.cc). */
const READ_ONLY: Readonly<Record<string, string>> = {
  '/clusters': 'upstream cluster status (?format=json)',
  '/config_dump': 'dump current meshlet configuration (the compiled plan)',
  '/ready': 'print server state, return 200 if LIVE, otherwise return 503',
  '/server_info': 'print server version/status information',
  '/stats/prometheus': 'print server stats in prometheus format',
};

/** Envoy endpoints that change state: POST only (a GET is a 400, as in Envoy). */
const MUTATIONS: Readonly<Record<string, string>> = {
  '/healthcheck/fail': 'cause the server to fail health checks',
  '/healthcheck/ok': 'cause the server to pass health checks',
  '/drain_listeners': 'drain listeners (not supported in-process)',
  '/logging': 'query/change logging levels (not supported in-process)',
  '/quitquitquit': 'exit the server (not supported in-process)',
  '/reset_counters': 'reset all counters to zero (not supported in-process)',
};

function helpText(): string {
  const lines = ['admin commands are:'];
  const all = { ...READ_ONLY, ...MUTATIONS };
  for (const p of Object.keys(all).sort()) lines.push(`  ${p}: ${all[p] ?? ''}`);
  return `${lines.join('\n')}\n`;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache, max-age=0',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

const text = (res: ServerResponse, status: number, body: string) =>
  send(res, status, 'text/plain; charset=UTF-8', body);
const json = (res: ServerResponse, body: unknown) =>
  send(res, 200, 'application/json', `${JSON.stringify(body, null, 2)}\n`);

/**
 * An admin server like Envoy's (port 15000) and Istio's agent (15020) for one mesh:
 * `/stats/prometheus`, `/config_dump`, `/clusters` (`?format=json`), `/ready`,
 * `/server_info`. Bound to loopback by default. Endpoints that change state need POST
 * (a GET answers 400, as Envoy's admin does); `/healthcheck/fail` and `/healthcheck/ok`
 * flip `/ready`. An unknown path is a 404 with the list of endpoints. A failure while
 * answering is a 500 for that request; nothing is thrown into the application.
 */
export function createAdminServer(options: AdminServerOptions): AdminServer {
  const host = options.host ?? '127.0.0.1';
  const now = options.now ?? Date.now;
  let healthFailed = false;
  let server: Server | null = null;
  let closing: Promise<void> | null = null;

  const live = (): boolean => {
    if (healthFailed) return false;
    try {
      return options.isReady?.() ?? true;
    } catch {
      return false;
    }
  };

  const info = (): ServerInfoInput => ({
    ...options.serverInfo,
    state: healthFailed ? 'DRAINING' : live() ? 'LIVE' : 'INITIALIZING',
    now: now(),
    configHash: options.getConfig().hash,
  });

  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (Object.hasOwn(MUTATIONS, path)) {
      if (method !== 'POST') return text(res, 400, 'This endpoint requires POST.\n');
      if (path === '/healthcheck/fail') healthFailed = true;
      else if (path === '/healthcheck/ok') healthFailed = false;
      else return text(res, 501, `${path} is not supported by meshlet's in-process admin\n`);
      return text(res, 200, 'OK\n');
    }
    switch (path) {
      case '/':
        return text(res, 200, helpText());
      case '/stats/prometheus':
        return send(res, 200, PROMETHEUS_CONTENT_TYPE, (await options.registry?.metrics()) ?? '');
      case '/config_dump':
        return json(
          res,
          configDump(
            options.getPlan(),
            options.getConfig(),
            options.getTelemetry?.() ?? null,
            options.getSecrets?.() ?? [],
          ),
        );
      case '/clusters': {
        const statuses = clusterStatuses(options.getPlan(), options.clusters);
        if (url.searchParams.get('format') === 'json') return json(res, { cluster_statuses: statuses });
        return text(res, 200, clustersText(statuses));
      }
      case '/ready': {
        const state = info().state;
        return text(res, state === 'LIVE' ? 200 : 503, `${state}\n`);
      }
      case '/server_info':
        return json(res, serverInfo(info()));
      default:
        return text(res, 404, `invalid path. ${helpText()}`);
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    answer(req, res).catch((err: unknown) => {
      // Admin must never take the application down (STYLE.md practice 9).
      if (res.headersSent) res.destroy();
      else text(res, 500, `admin error: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  };

  return {
    listen() {
      if (server !== null) {
        const bound = server.address() as AddressInfo | null;
        if (bound !== null) return Promise.resolve({ port: bound.port });
      }
      const s = createServer(handle);
      s.on('clientError', (_err, socket) => socket.destroy());
      server = s;
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => {
          server = null;
          reject(err);
        };
        s.once('error', onError);
        s.listen(options.port ?? 0, host, () => {
          s.off('error', onError);
          s.on('error', () => {
            // After a successful listen an error concerns one connection; nothing to do.
          });
          resolve({ port: (s.address() as AddressInfo).port });
        });
      });
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        const s = server;
        if (s === null || !s.listening) {
          resolve();
          return;
        }
        s.close(() => resolve());
        s.closeAllConnections();
      });
      return closing;
    },
  };
}
