import type { SecretDump } from '../admin/secrets-dump.js';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { MeshPlan } from '../compile/plan-types.js';
import { MeshletError } from '../errors/meshlet-error.js';
import type { CertSource } from '../identity/types.js';
import type { GatewayListener, RequestListener } from './gateway-listener.js';
import { gatewayPort } from './gateway-port.js';
import { NODE_MAX_HEADER_SIZE } from '../inbound/normalize/header-size.js';
import type { GatewayCredentials } from './gateway-tls.js';
import {
  matchChainBeforeHandshake,
  refusedWithoutSni,
  sameCertificates,
  serversTls,
  serversTlsOptions,
  type ServersTls,
} from './servers-tls.js';

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
   * Default: `createMesh`'s `credentials`.
   */
  readonly credentials?: GatewayCredentials;
}

/** The TLS of one Gateway server port from `plan`; null when its servers terminate none. */
async function portTls(
  plan: MeshPlan,
  port: number,
  certs: CertSource | null,
  credentials: GatewayCredentials | undefined,
): Promise<ServersTls | null> {
  const servers = (plan.gateway?.servers ?? []).filter((s) => s.http && s.port === port);
  const tls = servers.filter((s) => s.terminatesTls);
  if (tls.length === 0) return null;
  if (tls.length !== servers.length) {
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      `mesh.listenGateway: port ${port} has both HTTP and HTTPS servers; one listener cannot serve both`,
      { option: 'gateway.port' },
    );
  }
  return serversTls(tls, plan, certs, credentials, 'mesh.listenGateway', 'HTTPS');
}

/** What `createGatewayServer` gives: the server, its Gateway port, and how to follow changes. */
export interface GatewayServerHandle {
  readonly server: http.Server;
  readonly port: number;
  /** Directories whose files the server's certificates came from. */
  readonly sources: () => readonly string[];
  /** The certificates in use, under Istio's SDS names (none for plain HTTP). */
  readonly secrets: () => readonly SecretDump[];
  /**
   * Re-read the port's certificates from `plan` (a rotation, a changed Gateway): resolves
   * true when they changed and new handshakes use them, false when nothing changed; rejects
   * with the reason, the old certificates staying in use, when the new ones are unusable or
   * would need another kind of listener.
   */
  refresh(plan: MeshPlan): Promise<boolean>;
}

/**
 * An HTTP or HTTPS server for one Gateway server port, as the gateway's listener on that
 * port: plain HTTP when its servers terminate no TLS, else TLS with each server's
 * certificates, the one for the client's SNI picked by the servers' hosts (Envoy's filter
 * chain match on `server_names`); a name no server claims, or no SNI without a `*` server,
 * is refused. Servers on one port must
 * agree on whether client certificates are required. Throws `MESHLET_ERR_MESH_OPTIONS`
 * for settings meshlet cannot apply, naming the Gateway, port and field.
 */
export async function createGatewayServer(
  plan: MeshPlan,
  certs: CertSource | null,
  listener: (port: number) => RequestListener | GatewayListener,
  options: GatewayServerOptions,
): Promise<GatewayServerHandle> {
  const port = gatewayPort(plan.workload, plan.gateway, options.port);
  const onRequest = listener(port);
  const current = await portTls(plan, port, certs, options.credentials);
  if (current === null) {
    const server = http.createServer({ maxHeaderSize: NODE_MAX_HEADER_SIZE }, onRequest);
    proxyUpgrades(server, onRequest);
    return {
      server,
      port,
      sources: () => [],
      secrets: () => [],
      refresh: async (next) => {
        if ((await portTls(next, port, certs, options.credentials)) !== null)
          throw restart(port, 'its servers now terminate TLS');
        return false;
      },
    };
  }
  let active: ServersTls = current;
  const server = https.createServer(
    { ...serversTlsOptions(port, () => active), maxHeaderSize: NODE_MAX_HEADER_SIZE },
    onRequest,
  );
  proxyUpgrades(server, onRequest);
  matchChainBeforeHandshake(server, () => active);
  server.on('secureConnection', (socket: TLSSocket) => {
    if (refusedWithoutSni(socket, active)) socket.destroy();
  });
  return {
    server,
    port,
    sources: () => active.sources,
    secrets: () => active.secrets,
    refresh: async (next) => {
      const tls = await portTls(next, port, certs, options.credentials);
      if (tls === null) throw restart(port, 'its servers no longer terminate TLS');
      if (tls.clientCert !== active.clientCert)
        throw restart(port, 'its servers now ask for client certificates differently');
      if (sameCertificates(active, tls)) return false;
      // Envoy's SDS swaps a listener's certificates for new handshakes; connections made
      // stay as they are. So do Node's secure contexts.
      server.setSecureContext(tls.defaults);
      active = tls;
      return true;
    },
  };
}

/** A listener that proxies upgrades (`mesh.gateway()`'s) hears the server's `upgrade` requests. */
function proxyUpgrades(server: http.Server, listener: RequestListener | GatewayListener): void {
  if ('upgrade' in listener) server.on('upgrade', listener.upgrade);
}

function restart(port: number, why: string): MeshletError {
  return new MeshletError(
    'MESHLET_ERR_MESH_OPTIONS',
    `mesh.listenGateway: port ${port} keeps its listener: ${why}; call listenGateway again to serve the change`,
    { option: 'gateway.port' },
  );
}
