import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { MeshPlan } from '../compile/plan-types.js';
import type { CertSource } from '../identity/types.js';
import { createInboundEngine } from '../inbound/engine.js';
import type { RateLimitAnswer } from '../inbound/ratelimit/global-rate-limit.js';
import type { InboundEngine } from '../inbound/engine-types.js';
import type { InboundHandle } from '../inbound/handle.js';
import { createJwtAuthenticator } from '../inbound/jwt/authenticator.js';
import type { JwtAuthenticator } from '../inbound/jwt/types.js';
import { createMeshServer, type MeshServer } from '../inbound/server/mesh-server.js';
import { peerFromSocket } from '../inbound/server/peer-registry.js';
import { upgradeGuard } from '../inbound/server/upgrade-guard.js';
import { guardServerUpgrades } from '../inbound/server/guard-server-upgrades.js';
import {
  createMeshTcpServer,
  type MeshTcpHandler,
  type MeshTcpServer,
} from '../inbound/tcp/mesh-tcp-server.js';
import type { Clock } from '../runtime/clock.js';
import type { Random } from '../runtime/random.js';
import { MeshletError } from '../errors/meshlet-error.js';
import { createInboundObserver } from '../inbound/node-observe.js';
import { reportCodecRefusal } from '../inbound/codec-refusal-report.js';
import type { MeshTelemetry } from '../telemetry/mesh-telemetry.js';
import type { ClusterCaller } from '../outbound/cluster-call.js';
import { createExtAuthzTracer } from '../telemetry/tracing/ext-authz-tracer.js';
import { stampForwardedResponse, type ForwardedStamp } from '../inbound/forwarded-response.js';
import type { ProxyHeaders } from '../config/mesh-config.js';
import type { LocalPeerHeaders } from '../telemetry/metadata-exchange/peer-metadata.js';
import { ExtAuthzGrpcClients } from '../inbound/authz/ext-authz-grpc.js';
import { connectionCheckGrpc } from '../inbound/tcp/connection-ext-authz.js';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** The inbound half of a mesh: one engine, the handle adapters use, and the servers `listen` made. */
export interface InboundSide {
  readonly handle: InboundHandle;
  readonly engine: InboundEngine;
  /** A server that applies PeerAuthentication per port; for Fastify's `serverFactory`. */
  serverFactory(handler: RequestListener): MeshServer;
  listen(app: RequestListener | Server, port: number, host?: string): Promise<MeshServer>;
  /** A TCP listener applying PeerAuthentication and AuthorizationPolicy per connection. */
  listenTcp(handler: MeshTcpHandler, port: number, host?: string): Promise<MeshTcpServer>;
  /** The guard of a mesh server's upgrades, in front of another server's (guard-server-upgrades.ts). */
  guardUpgrades(server: unknown): void;
  close(): Promise<void>;
}

function listenerOf(app: RequestListener | Server): RequestListener {
  if (typeof app === 'function') return app;
  const listeners = app.listeners('request');
  const first = listeners[0];
  if (listeners.length !== 1 || typeof first !== 'function') {
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      'mesh.listen: pass a request listener (an Express app, `(req, res) => …`) or an http.Server with exactly one request listener',
      { option: 'listen' },
    );
  }
  return first as RequestListener;
}

export function createInboundSide(options: {
  getPlan: () => MeshPlan;
  certs: CertSource | null;
  clock: Clock;
  random: Random;
  telemetry: MeshTelemetry | null;
  /** The mesh's outbound clusters, for CUSTOM checks to extension providers. */
  upstream: ClusterCaller;
  /** This workload's metadata-exchange headers, answered to meshed callers. */
  peerHeaders?: LocalPeerHeaders;
  /** The same metadata as the TCP exchange frame `mesh.listenTcp` answers meshed clients with. */
  exchangeFrame?: Buffer;
  /** How JWKS and discovery documents are fetched (default the global `fetch`). */
  jwksFetch?: typeof fetch;
  /** Answers global rate limit filters in place of their service (the mock mesh). */
  rateLimitAnswer?: RateLimitAnswer;
}): InboundSide {
  const jwt: JwtAuthenticator = createJwtAuthenticator({
    clock: options.clock,
    ...(options.jwksFetch === undefined ? {} : { fetch: options.jwksFetch }),
  });
  // The network ext_authz of mesh.listenTcp's ports: its own gRPC channels to the providers.
  const tcpGrpcClients = new ExtAuthzGrpcClients();
  const connectionCheck = connectionCheckGrpc({
    clients: tcpGrpcClients,
    upstream: options.upstream,
    clock: options.clock,
  });
  const engine = createInboundEngine({
    getPlan: options.getPlan,
    jwt,
    clock: options.clock,
    random: options.random,
    upstream: options.upstream,
    ...(options.peerHeaders === undefined ? {} : { peerHeaders: options.peerHeaders }),
    ...(options.rateLimitAnswer === undefined ? {} : { rateLimitAnswer: options.rateLimitAnswer }),
    ...(options.telemetry === null
      ? {}
      : {
          extAuthzTracer: createExtAuthzTracer(() => options.telemetry?.tracing ?? null),
          rbacStats: options.telemetry.rbacStats,
        }),
  });
  const servers = new Set<MeshServer | MeshTcpServer>();
  const now = (): number => options.clock.now();
  // What a forwarded response gets, worked out once per meshConfig.
  let stampOf: ProxyHeaders | null = null;
  let stamp: ForwardedStamp = { upstreamTime: false, server: null };
  const currentStamp = (): ForwardedStamp => {
    const headers = options.getPlan().meshConfig.proxyHeaders;
    if (headers !== stampOf) {
      stamp = {
        upstreamTime: headers.envoyDebugHeaders,
        server: headers.server === null ? null : headers.server.inbound,
      };
      stampOf = headers;
    }
    return stamp;
  };
  const handle: InboundHandle = {
    decide: (req) => engine.decide(req),
    decideNow: (req) => engine.decideNow(req),
    peerOf: peerFromSocket,
    forwarded: (res) => stampForwardedResponse(res, now, currentStamp()),
    ...(options.telemetry === null
      ? {}
      : {
          observe: createInboundObserver(options.telemetry, {
            topology: () => {
              const plan = options.getPlan();
              return {
                gateway: plan.inbound.gateway,
                numTrustedProxies: plan.meshConfig.numTrustedProxies,
              };
            },
          }),
        }),
  };
  // Upgrade requests (WebSockets) are decided and reported before the server's upgrade
  // listeners see them.
  const upgrades = upgradeGuard(handle, { server: () => currentStamp().server });
  const serverFactory = (handler: RequestListener): MeshServer => {
    const telemetry = options.telemetry;
    const server = createMeshServer({
      handler,
      getPlan: options.getPlan,
      certs: options.certs,
      clock: options.clock,
      upgradeGuard: upgrades,
      ...(telemetry === null ? {} : { onCodecRefusal: (r) => reportCodecRefusal(telemetry, r) }),
    });
    servers.add(server);
    server.once('close', () => servers.delete(server));
    return server;
  };
  /** Listen on `port`; rejects with the listen error (EADDRINUSE...), forgetting the server. */
  const listening = <S extends MeshServer | MeshTcpServer>(server: S, port: number, host: string) =>
    new Promise<S>((resolve, reject) => {
      servers.add(server);
      server.once('close', () => servers.delete(server));
      const failed = (err: Error) => {
        servers.delete(server);
        reject(err);
      };
      server.once('error', failed);
      server.listen(port, host, () => {
        server.off('error', failed);
        resolve(server);
      });
    });
  return {
    handle,
    engine,
    serverFactory,
    guardUpgrades: (server) => guardServerUpgrades(server, upgrades),
    listen: (app, port, host = '0.0.0.0') => {
      let server: MeshServer;
      try {
        server = serverFactory(listenerOf(app));
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      return listening(server, port, host);
    },
    listenTcp: (handler, port, host = '0.0.0.0') => {
      if (typeof handler !== 'function')
        return Promise.reject(
          new MeshletError(
            'MESHLET_ERR_MESH_OPTIONS',
            'mesh.listenTcp: pass a connection handler `(socket, info) => …`',
            { option: 'listenTcp' },
          ),
        );
      const telemetry = options.telemetry;
      const server = createMeshTcpServer({
        handler,
        getPlan: options.getPlan,
        certs: options.certs,
        clock: options.clock,
        telemetry: () => telemetry,
        exchangeFrame: options.exchangeFrame ?? null,
        check: connectionCheck,
      });
      return listening(server, port, host);
    },
    close: async () => {
      await Promise.all(
        [...servers].map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections?.();
            }),
        ),
      );
      await engine.close();
      tcpGrpcClients.close();
      jwt.close();
    },
  };
}
