import http from 'node:http';
import https from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import { hostMatches } from '../compile/hosts.js';
import type { GatewayServerInfo, MeshPlan } from '../compile/plan-types.js';
import { MeshletError } from '../errors/meshlet-error.js';
import type { CertSource } from '../identity/types.js';
import { gatewayPort, type RequestListener } from './gateway-listener.js';
import { serverTlsMaterial, type GatewayCredentials, type ServerTlsMaterial } from './gateway-tls.js';

/** Options of `mesh.listenGateway`. */
export interface GatewayServerOptions {
  /** The Gateway server port (`servers[].port.number`); default its only HTTP or HTTPS server port. */
  readonly port?: number;
  /** The port to listen on (the pod's container port); default `port`. 0 picks a free one. */
  readonly listenPort?: number;
  /** Default `0.0.0.0`. */
  readonly host?: string;
  /**
   * Where the secrets `credentialName` names are mounted: a directory with one directory per
   * name (`<dir>/<name>/tls.crt`, `tls.key`, `ca.crt`), or a map from name to directory.
   */
  readonly credentials?: GatewayCredentials;
}

/** The server's host names without their `ns/` part, for SNI. */
function sniNames(s: GatewayServerInfo): string[] {
  return s.hosts.map((h) => h.slice(h.indexOf('/') + 1).toLowerCase());
}

/** The most specific server for `name`: an exact host, else the longest wildcard, else the first. */
function bySni(
  contexts: readonly { names: string[]; context: SecureContext }[],
  name: string,
): SecureContext {
  let best = contexts[0]!.context;
  let bestScore = -1;
  for (const c of contexts) {
    for (const h of c.names) {
      const score = h === name ? Number.MAX_SAFE_INTEGER : hostMatches(h, name) ? h.length : -1;
      if (score > bestScore) {
        best = c.context;
        bestScore = score;
      }
    }
  }
  return best;
}

/**
 * An HTTP or HTTPS server for one Gateway server port, as the gateway's listener on that
 * port: plain HTTP when its servers terminate no TLS, else TLS with each server's
 * certificates, the one for the client's SNI picked by the servers' hosts (Envoy's filter
 * chain match on `server_names`), the first server's otherwise. Servers on one port must
 * agree on whether client certificates are required. Throws `MESHLET_ERR_MESH_OPTIONS`
 * for settings meshlet cannot apply, naming the Gateway, port and field.
 */
export async function createGatewayServer(
  plan: MeshPlan,
  certs: CertSource | null,
  listener: (port: number) => RequestListener,
  options: GatewayServerOptions,
): Promise<{ server: http.Server; port: number }> {
  const port = gatewayPort(plan.workload, plan.gateway, options.port);
  const servers = (plan.gateway?.servers ?? []).filter((s) => s.http && s.port === port);
  const tls = servers.filter((s) => s.terminatesTls);
  if (tls.length === 0) return { server: http.createServer(listener(port)), port };
  if (tls.length !== servers.length) {
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      `mesh.listenGateway: port ${port} has both HTTP and HTTPS servers; one listener cannot serve both`,
      { option: 'gateway.port' },
    );
  }
  const material: ServerTlsMaterial[] = [];
  for (const s of tls) material.push(await serverTlsMaterial(s, options.credentials, certs));
  const clientCert = material[0]!.clientCert;
  if (material.some((m) => m.clientCert !== clientCert)) {
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      `mesh.listenGateway: the HTTPS servers on port ${port} disagree on client certificates (SIMPLE, MUTUAL, OPTIONAL_MUTUAL, ISTIO_MUTUAL); give each its own port`,
      { option: 'gateway.port' },
    );
  }
  const contexts: { names: string[]; context: SecureContext }[] = tls.map((s, i) => ({
    names: sniNames(s),
    context: createSecureContext(material[i]!.context),
  }));
  const server = https.createServer(
    {
      ...material[0]!.context,
      requestCert: clientCert !== 'none',
      rejectUnauthorized: clientCert === 'required',
      SNICallback: (servername, cb) => {
        cb(null, bySni(contexts, servername.toLowerCase()));
      },
    },
    listener(port),
  );
  return { server, port };
}
