import { resolveShortName } from '../compile/hosts.js';
import type { MeshFetchInit } from '../outbound/client.js';
import { prepareBody } from '../outbound/request-body.js';
import { normalizeHeaders } from '../outbound/request-input.js';
import { createMeshResponse, type MeshResponse } from '../outbound/response.js';
import { TransportError } from '../outbound/transport.js';
import type { Random } from '../runtime/random.js';
import type { MockCaller, MockNetwork } from './mock-network.js';
import type { MockTopology } from './mock-topology.js';

export interface DirectFetchContext {
  readonly network: MockNetwork;
  readonly topology: MockTopology;
  /** Addresses of the pods serving an external host name (`mm.service('api.example.com', ...)`). */
  readonly external: (host: string) => readonly string[];
  readonly random: Random;
  readonly caller: MockCaller;
  /** The caller's namespace, for short names (`reviews` is `reviews.<ns>.svc.cluster.local`). */
  readonly namespace: string;
}

/**
 * The container port behind `port` of `host`: the `targetPort` of a Kubernetes Service in
 * the config (kube-proxy's mapping), else `port` itself.
 */
function targetPortOf(topology: MockTopology, host: string, port: number): number {
  return topology.servicePorts(host)?.find((x) => x.port === port)?.targetPort ?? port;
}

/** `host`, `host.ns` or the full name, as Kubernetes DNS resolves them for a pod in `namespace`. */
function serviceHost(hostname: string, namespace: string, known: Readonly<Record<string, unknown>>): string {
  const candidates = [resolveShortName(hostname, namespace), `${hostname}.svc.cluster.local`, hostname];
  return candidates.find((h) => known[h] !== undefined) ?? (candidates[0] as string);
}

/** What Node's HTTP client rejects with for a connection that failed (`code` ECONNRESET, ...). */
function socketError(err: TransportError): Error {
  const code = err.failure === 'reset' ? 'ECONNRESET' : err.failure === 'tls' ? 'EPROTO' : 'ECONNREFUSED';
  return Object.assign(new Error(`${code}: ${err.message}`, { cause: err }), { code });
}

/** Whether a mock pod serves `hostname` (a Service's name as a pod in `namespace` writes it, or an external host). */
export function servesHost(ctx: DirectFetchContext, hostname: string): boolean {
  const name = hostname.toLowerCase();
  const endpoints = ctx.topology.endpoints();
  return (
    ctx.external(name).length > 0 || endpoints[serviceHost(name, ctx.namespace, endpoints)] !== undefined
  );
}

/**
 * Where a client without a sidecar connects for `hostname:port`: the Service's virtual IP
 * picks one of its endpoints on the `targetPort` at random (kube-proxy); an external host
 * is its pods' addresses (DNS). `address` is `ip:port`.
 * @throws Error `code: 'ENOTFOUND'` when nothing serves the name on that port.
 */
export function pickEndpoint(
  ctx: Pick<DirectFetchContext, 'topology' | 'external' | 'random' | 'namespace'>,
  hostname: string,
  port: number,
): { readonly host: string; readonly ip: string; readonly port: number; readonly address: string } {
  const endpoints = ctx.topology.endpoints();
  const host = serviceHost(hostname, ctx.namespace, endpoints);
  const containerPort = targetPortOf(ctx.topology, host, port);
  const external = ctx.external(hostname.toLowerCase()).map((address) => ({ address, port }));
  const list = [...(endpoints[host] ?? []).filter((e) => e.port === containerPort), ...external];
  if (list.length === 0) {
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname} (no endpoint on port ${port})`), {
      code: 'ENOTFOUND',
    });
  }
  const pick = list[Math.floor(ctx.random.next() * list.length)] ?? list[0]!;
  return { host, ip: pick.address, port: pick.port, address: `${pick.address}:${pick.port}` };
}

/**
 * Cluster DNS and kube-proxy for a name a sidecar passes through (mock-network.ts
 * `KubeProxy`): a Kubernetes Service's endpoint as `pickEndpoint` chooses it; null for
 * anything else (an external name has its own DNS entry in the mock).
 */
export function kubeProxy(
  ctx: Pick<DirectFetchContext, 'topology' | 'external' | 'random' | 'namespace'>,
  hostname: string,
  port: number,
): string | null {
  const endpoints = ctx.topology.endpoints();
  if (endpoints[serviceHost(hostname.toLowerCase(), ctx.namespace, endpoints)] === undefined) return null;
  try {
    return pickEndpoint(ctx, hostname, port).address;
  } catch {
    return null;
  }
}

/**
 * A call from a pod without a sidecar: no routing rules, no retries, no mTLS. The
 * Service's virtual IP picks one of its endpoints at random (kube-proxy), and the request
 * goes there in plaintext. A connection the server closes (a STRICT port) rejects as
 * Node's client would, with `code: 'ECONNRESET'`, not with an HTTP status.
 */
export async function directFetch(
  ctx: DirectFetchContext,
  url: string | URL,
  init?: MeshFetchInit,
): Promise<MeshResponse> {
  const target = new URL(url);
  const port = target.port !== '' ? Number(target.port) : target.protocol === 'https:' ? 443 : 80;
  const { host, address } = pickEndpoint(ctx, target.hostname, port);
  return sendTo(ctx.network, ctx.caller, address, target, host, init);
}

/**
 * Sends `target`'s path to the pod at `address` (`ip:port`) as a client without a
 * sidecar does: the URL's host in `Host`, plaintext (or the client's own TLS for an
 * https URL), a refused or reset connection as Node's socket error.
 */
export async function sendTo(
  network: MockNetwork,
  caller: MockCaller,
  address: string,
  target: URL,
  host: string,
  init?: MeshFetchInit,
): Promise<MeshResponse> {
  const res = await network
    .send(caller, {
      url: new URL(`http://${address}${target.pathname}${target.search}`),
      method: (init?.method ?? 'GET').toUpperCase(),
      headers: { host: target.host, ...normalizeHeaders(init?.headers) },
      body: prepareBody(init?.body).data,
      signal: init?.signal ?? null,
      connectTimeoutMs: 10_000,
      // An https URL: the client's own TLS, checking the certificate against the URL's host.
      tls:
        target.protocol === 'https:'
          ? { ca: null, cert: null, key: null, servername: target.hostname, verifyPeer: null }
          : null,
      poolKey: `direct|${address}`,
      pool: { maxConnections: 0, maxRequestsPerConnection: 0, idleTimeoutMs: 0 },
    })
    .catch((err: unknown) => {
      throw err instanceof TransportError ? socketError(err) : err;
    });
  return createMeshResponse(res.status, res.headers, res.body, {
    flags: [],
    attempts: 1,
    upstream: { host, subset: null, address, cluster: '' },
    route: null,
    retriesDisabled: null,
  });
}
