import type { Socket } from 'node:net';
import {
  createSecureContext,
  type SecureContext,
  type SecureContextOptions,
  type Server as TlsServer,
  type TlsOptions,
  type TLSSocket,
} from 'node:tls';
import type { SecretDump } from '../admin/secrets-dump.js';
import { sniffFirstBytes } from '../inbound/server/sniff.js';
import type { GatewayServerInfo, MeshPlan } from '../compile/plan-types.js';
import { MeshletError } from '../errors/meshlet-error.js';
import type { CertSource } from '../identity/types.js';
import { serverTlsMaterial, type GatewayCredentials, type ServerTlsMaterial } from './gateway-tls.js';
import { serverNames } from './server-route.js';
import { matchServerName } from './sni-match.js';

/** The TLS of the servers one gateway listener terminates: a filter chain per server. */
export interface ServersTls {
  readonly clientCert: ServerTlsMaterial['clientCert'];
  /** Each server's names (its hosts) and secure context, for Envoy's chain match by SNI. */
  readonly contexts: { readonly names: readonly string[]; readonly value: SecureContext }[];
  /** The `*` server's (which also takes clients that send no SNI), else the first server's. */
  readonly defaults: SecureContextOptions;
  /** Whether a server has host `*`: without one, a client that sends no SNI is refused. */
  readonly catchAll: boolean;
  readonly sources: readonly string[];
  /** The servers' certificates under Istio's SDS names, each name once. */
  readonly secrets: readonly SecretDump[];
  /** The certificates in use, to tell a rotation from a re-read of the same files. */
  readonly fingerprint: string;
}

/**
 * Reads the certificates of `servers` (one listener's TLS-terminating servers, at least
 * one), which must agree on client certificates: one Node listener asks for them or not.
 * `api` and `kind` name the listener in errors (`mesh.listenGateway`, `HTTPS`).
 */
export async function serversTls(
  servers: readonly GatewayServerInfo[],
  plan: MeshPlan,
  certs: CertSource | null,
  credentials: GatewayCredentials | undefined,
  api: string,
  kind: string,
): Promise<ServersTls> {
  const material: ServerTlsMaterial[] = [];
  for (const s of servers)
    material.push(await serverTlsMaterial(s, credentials, certs, plan.meshConfig.tlsDefaults));
  const clientCert = material[0]!.clientCert;
  if (material.some((m) => m.clientCert !== clientCert)) {
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      `${api}: the ${kind} servers on port ${servers[0]!.port} disagree on client certificates (SIMPLE, MUTUAL, OPTIONAL_MUTUAL, ISTIO_MUTUAL); give each its own port`,
      { option: 'gateway.port' },
    );
  }
  const catchAll = servers.findIndex((s) => serverNames(s).includes('*'));
  return {
    clientCert,
    contexts: servers.map((s, i) => ({ names: serverNames(s), value: secureContext(s, material[i]!, api) })),
    defaults: material[Math.max(catchAll, 0)]!.context,
    catchAll: catchAll >= 0,
    sources: [...new Set(material.flatMap((m) => m.sources))],
    secrets: [...new Map(material.flatMap((m) => m.secrets).map((x) => [x.name, x])).values()],
    fingerprint: JSON.stringify(material.map((m) => [m.context.cert, m.context.key, m.context.ca])),
  };
}

/** Node's secure context for a server, or an error naming it when its files are unusable. */
function secureContext(s: GatewayServerInfo, m: ServerTlsMaterial, api: string): SecureContext {
  try {
    return createSecureContext(m.context);
  } catch (err) {
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      `${api}: Gateway ${s.gateway.namespace}/${s.gateway.name} server on port ${s.port}: its certificate or key is unusable (${(err as Error).message}); check the mounted secret`,
      { option: 'gateway', gateway: `${s.gateway.namespace}/${s.gateway.name}`, port: s.port },
    );
  }
}

/**
 * Envoy's filter chain match as Node's `SNICallback`: the context of the server the name
 * picks (sni-match.ts); a name no server claims finds no chain, and the connection is
 * closed, in the handshake here. `current` is read per handshake, so a rotation applies.
 */
export function sniCallback(port: number, current: () => ServersTls): NonNullable<TlsOptions['SNICallback']> {
  return (name, cb) => {
    const context = matchServerName(current().contexts, name.toLowerCase());
    if (context === null) cb(new Error(`no Gateway server on port ${port} serves ${name}`));
    else cb(null, context);
  };
}

/**
 * A listener's Node TLS options for the servers `current()` holds: client certificates asked
 * for (and required) as they say, the context picked by SNI per handshake.
 */
export function serversTlsOptions(port: number, current: () => ServersTls): TlsOptions {
  const active = current();
  return {
    ...active.defaults,
    requestCert: active.clientCert !== 'none',
    rejectUnauthorized: active.clientCert === 'required',
    SNICallback: sniCallback(port, current),
  };
}

/** Whether a re-read found the certificates already in use: nothing to swap. */
export function sameCertificates(active: ServersTls, next: ServersTls): boolean {
  return next.fingerprint === active.fingerprint && next.contexts.length === active.contexts.length;
}

/** Whether a connection that sent no SNI finds no chain: only a `*` server's takes it. */
export function refusedWithoutSni(socket: TLSSocket, tls: ServersTls): boolean {
  return typeof socket.servername !== 'string' && !tls.catchAll;
}

/** Envoy's default listener_filters_timeout: a client that sends no ClientHello within it is closed. */
export const LISTENER_FILTER_TIMEOUT_MS = 15_000;

/**
 * Envoy picks a gateway's filter chain from the ClientHello (tls_inspector, before any
 * handshake), so a client that sends no SNI, where no server has host `*`, is closed
 * without seeing a certificate. Node's SNICallback is not called without SNI, and its
 * default context would answer with the first server's certificate: so the hello is read
 * first (sniff.ts), and the TLS server's own connection handler gets the connection only
 * when a chain takes it. A client that sends nothing within Envoy's listener filter
 * timeout is closed; anything not a ClientHello goes to TLS, which refuses it as before.
 */
export function matchChainBeforeHandshake(server: TlsServer, current: () => ServersTls): void {
  const tlsAccept = server.listeners('connection')[0] as ((socket: Socket) => void) | undefined;
  if (tlsAccept === undefined) return;
  server.removeListener('connection', tlsAccept);
  server.on('connection', (socket: Socket) => {
    const silent = (): void => {
      socket.destroy();
    };
    socket.setTimeout(LISTENER_FILTER_TIMEOUT_MS);
    socket.once('timeout', silent);
    sniffFirstBytes(socket, (hello) => {
      // The socket goes on to TLS with no timer and no listener of ours left on it.
      socket.setTimeout(0);
      socket.off('timeout', silent);
      if (socket.destroyed) return;
      if (hello.clientHello && hello.alpn !== null && hello.serverName === null && !current().catchAll) {
        socket.destroy();
        return;
      }
      tlsAccept.call(server, socket);
    });
  });
}
