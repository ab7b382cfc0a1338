import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { validateWorkload, type WorkloadIdentity } from '../compile/workload.js';
import { MeshletError } from '../errors/meshlet-error.js';
import { createOutboundClient, type MeshFetchInit, type OutboundClient } from '../outbound/client.js';
import type { MeshResponse } from '../outbound/response.js';
import { createClusterManager } from '../outbound/upstream/cluster-manager.js';
import { systemClock } from '../runtime/clock.js';
import { systemRandom } from '../runtime/random.js';
import { configSources } from './config-sources.js';
import { createMeshGot } from './mesh-got.js';
import { startPlanSource, type PlanSource, type PlanSourceHooks } from './plan-source.js';
import { resolveTransport } from './transport-option.js';
import type { Mesh, MeshEvents, MeshOptions } from './types.js';
import { workloadFromEnv } from './workload-env.js';
import { istiodFeaturesFromEnv } from '../compile/istiod-features.js';
import { createInboundSide } from './inbound-side.js';
import type { RateLimitAnswer } from '../inbound/ratelimit/global-rate-limit.js';
import { createGatewayListener } from '../gateway/gateway-listener.js';
import { createAppConnections } from '../outbound/app-connection.js';
import { gatewayPort } from '../gateway/gateway-port.js';
import { listenGateway } from '../gateway/listen-gateway.js';
import { listenGatewayTcp } from '../gateway/listen-gateway-tcp.js';
import { tcpObserverFactory, type TcpObserverFactory } from '../outbound/tcp-observer.js';
import { connectTcp } from '../outbound/tcp-connect.js';
import { AppTlsPool } from '../outbound/app-tls-call.js';
import type { TcpDial } from '../outbound/tcp-dial.js';
import { tcpExchangeFrame } from '../telemetry/metadata-exchange/tcp-exchange.js';
import { createTlsFor } from './outbound-tls.js';
import { watchCertDir, type CertWatcher } from '../identity/cert-watcher.js';
import type { CertSource } from '../identity/types.js';
import { createAdminServer, type AdminServer } from '../admin/admin-server.js';
import { telemetryDump } from '../admin/telemetry-dump.js';
import { uniqueSecrets, workloadSecrets, type SecretDump } from '../admin/secrets-dump.js';
import { MESHLET_VERSION } from '../version.js';
import type { MountedCredentials } from '../identity/mounted-secret.js';
import { ClientCredentials, type ClientCredentialSource } from './client-credentials.js';
import { credentialsOption } from './credentials-option.js';
import { createMeshTelemetry, type MeshTelemetry } from '../telemetry/mesh-telemetry.js';
import { localPeerHeaders, sidecarNodeId } from '../telemetry/metadata-exchange/peer-metadata.js';
import type { Duplex } from 'node:stream';

/**
 * Creates a mesh: loads and watches the Istio config, compiles the plan for this
 * workload, and serves `fetch`/`got` through the outbound pipeline (issue #3).
 *
 * A good reload swaps plan and snapshot as one reference; a call in flight keeps the
 * plan it read when it started. A bad reload keeps the last good plan and emits
 * `rejected`.
 *
 * @throws MeshletError (as a rejection) `MESHLET_ERR_CONFIG_INVALID` when the config
 * has errors at start (message lists the first ones, `details.diagnostics` all),
 * `MESHLET_ERR_CONFIG_WORKLOAD` for a malformed workload, `MESHLET_ERR_MESH_OPTIONS`
 * for a bad option.
 */
export function createMesh(options: MeshOptions = {}): Promise<Mesh> {
  return createMeshWith(options, {});
}

/** What a mesh can be built with besides its public options (the mock mesh's parts). */
export interface MeshInternals {
  /**
   * Where the plan comes from instead of watched files: the mock mesh compiles every
   * workload's plan from one in-memory topology. `options.config` is not read then.
   */
  readonly planSource?: (workload: WorkloadIdentity, hooks: PlanSourceHooks) => PlanSource;
  /** How JWKS and OIDC discovery documents are fetched (default the global `fetch`). */
  readonly jwksFetch?: typeof fetch;
  /** Wraps what `mesh.gateway()` sends on with (the mock mesh logs each hop). */
  readonly gatewayForward?: (forward: OutboundClient['forward']) => OutboundClient['forward'];
  /** How `mesh.connect` and gateway TCP listeners open upstream connections (the mock mesh's wire). */
  readonly tcpDial?: TcpDial;
  /**
   * Only https calls a VirtualService `tls` rule routes carry the application's TLS over the
   * tcp_proxy; the others go through the transport (the mock mesh simulates its pods' TLS).
   */
  readonly tcpForTlsRulesOnly?: boolean;
  /** Where DestinationRule TLS origination gets its certificates (the mock mesh simulates them). */
  readonly clientCredentials?: ClientCredentialSource;
  /** Answers global rate limit filters in place of their service (the mock mesh's in-memory ones). */
  readonly rateLimitAnswer?: RateLimitAnswer;
}

/** `createMesh` with internal parts swapped in (`@meshlet/core/testing`). */
export async function createMeshWith(options: MeshOptions, internals: MeshInternals): Promise<Mesh> {
  const workload = validateWorkload(workloadFromEnv(options.workload));
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const events = new EventEmitter<MeshEvents>();
  // Set once the config has loaded (telemetry reads its Telemetry resources); the reload
  // hooks below only run after that.
  let telemetry: MeshTelemetry | null = null;
  const hooks: PlanSourceHooks = {
    reload: (next, previous) => {
      telemetry?.meshlet.configReloaded(Date.now());
      // Telemetry overrides, tracing and access logging follow the new config too.
      telemetry?.reload(next.snapshot);
      events.emit('reload', { plan: next.plan, snapshot: next.snapshot, previous: previous.plan });
    },
    rejected: (snapshot, reasons) => {
      telemetry?.meshlet.configReloadFailed();
      events.emit('rejected', { reasons, diagnostics: snapshot.diagnostics, snapshot });
    },
  };
  const source: PlanSource =
    internals.planSource?.(workload, hooks) ??
    (await startPlanSource(
      {
        sources: configSources(options.config),
        workload,
        compile: {
          ...(options.endpoints !== undefined ? { endpoints: options.endpoints } : {}),
          istiodFeatures: { ...istiodFeaturesFromEnv(process.env), ...options.istiodFeatures },
          // In-process, this process is the proxy: its ISTIO_META_* settings apply.
          proxyEnv: process.env,
        },
        meshConfig: options.meshConfig,
        debounceMs: options.debounceMs,
      },
      hooks,
    ));

  let transport;
  let certWatcher: CertWatcher | null = null;
  let certs: CertSource | null = null;
  let credentials: MountedCredentials | undefined;
  try {
    transport = resolveTransport(options.transport);
    credentials = credentialsOption(options.credentials);
    const certOption = options.certs ?? process.env['MESHLET_CERTS'];
    if (typeof certOption === 'string' && certOption !== '') {
      certWatcher = await watchCertDir(certOption, { clock });
      certs = certWatcher;
    } else if (typeof certOption === 'object') {
      certs = certOption;
    }
  } catch (err) {
    await source.close();
    throw err;
  }
  const getPlan = () => source.current.plan;
  // A gateway listener reads its credentialName secrets where the mesh's are, unless told.
  const withCredentials = <O extends { readonly credentials?: MountedCredentials }>(o: O): O =>
    o.credentials !== undefined || credentials === undefined ? o : { ...o, credentials };
  telemetry =
    options.telemetry === false
      ? null
      : createMeshTelemetry({
          ...(options.telemetry ?? {}),
          workload,
          snapshot: source.current.snapshot,
          meshConfig: source.current.snapshot.meshConfig,
          clock,
          hasCertificate: certs !== null,
        });
  if (telemetry !== null && certWatcher !== null) {
    const watcher = certWatcher;
    const meshlet = telemetry.meshlet;
    const report = () => meshlet.certificateExpiry('workload', watcher.current().notAfter.getTime());
    report();
    watcher.onEvent(report);
  }
  // Metadata exchange runs with telemetry on or off, as Istio's filter does.
  const telemetryOptions = options.telemetry === false ? {} : (options.telemetry ?? {});
  const peerHeaders = localPeerHeaders(
    workload,
    telemetryOptions.cluster ?? 'Kubernetes',
    sidecarNodeId(workload, telemetryOptions.env),
  );
  const clusters = createClusterManager({
    clock,
    random,
    ...(telemetry === null ? {} : { onEvent: telemetry.onUpstreamEvent }),
  });
  const clientCredentials =
    internals.clientCredentials ??
    new ClientCredentials(credentials, clock, (e) => events.emit('clientTls', e));
  const tlsFor = createTlsFor(getPlan, certs, clientCredentials);
  // What the gateway's TCP listeners and mesh.connect run on, with one observer factory
  // (its peer labels cached) for both.
  let tcpObservers: TcpObserverFactory | null = null;
  const exchangeFrame = tcpExchangeFrame(peerHeaders);
  const tcpParts = () => ({
    exchangeFrame,
    getPlan,
    clusters,
    clock,
    random,
    tlsFor,
    ...(internals.tcpDial === undefined ? {} : { dial: internals.tcpDial }),
    ...(telemetry === null ? {} : { observe: (tcpObservers ??= tcpObserverFactory(telemetry, clock)) }),
  });
  // The application's own https connections, kept alive across calls (app-tls-call.ts).
  const appTls = new AppTlsPool(tcpParts());
  const client = createOutboundClient({
    getPlan: () => source.current.plan,
    clusters,
    transport: transport.transport,
    clock,
    random,
    ...(options.resolveDns !== undefined ? { resolveDns: options.resolveDns } : {}),
    tlsFor,
    ...(telemetry === null ? {} : { telemetry }),
    peerHeaders,
    tcp: appTls,
    ...(internals.tcpForTlsRulesOnly === true ? { tcpForTlsRulesOnly: true } : {}),
  });
  const inbound = createInboundSide({
    getPlan,
    certs,
    clock,
    random,
    telemetry,
    upstream: client.cluster,
    peerHeaders,
    exchangeFrame,
    ...(internals.jwksFetch === undefined ? {} : { jwksFetch: internals.jwksFetch }),
    ...(internals.rateLimitAnswer === undefined ? {} : { rateLimitAnswer: internals.rateLimitAnswer }),
  });

  let admin: AdminServer | null = null;
  let adminAddress: Mesh['admin'] = null;
  if (options.admin !== undefined) {
    const host = options.admin.host ?? '127.0.0.1';
    admin = createAdminServer({
      getPlan,
      getConfig: () => ({
        hash: source.current.hash,
        loadedAt: source.current.loadedAt,
        files: source.current.snapshot.files,
      }),
      clusters,
      getSecrets: () =>
        uniqueSecrets([
          ...workloadSecrets(certs),
          ...[...gatewaySecrets].flatMap((list) => list()),
          ...(clientCredentials.resources?.() ?? []),
        ]),
      ...(telemetry === null
        ? {}
        : { registry: telemetry.registry, getTelemetry: () => telemetryDump(telemetry) }),
      serverInfo: { version: MESHLET_VERSION, workload, startedAt: Date.now() },
      host,
      port: options.admin.port ?? 0,
    });
    try {
      const { port } = await admin.listen();
      adminAddress = { port, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}` };
    } catch (err) {
      await source.close();
      await inbound.close();
      certWatcher?.close();
      clusters.close();
      throw err;
    }
  }

  let closing: Promise<void> | null = null;
  const gatewayServers = new Set<Server>();
  const gatewayTcpClosers = new Set<() => Promise<void>>();
  const gatewaySecrets = new Set<() => readonly SecretDump[]>();
  const gatewayTunnels = new Set<Duplex>();
  const closedMesh = (method: string): Promise<never> =>
    Promise.reject(new MeshletError('MESHLET_ERR_MESH_CLOSED', `mesh.${method}: the mesh is closed`, {}));
  const fetch = (url: string | URL, init?: MeshFetchInit): Promise<MeshResponse> => {
    if (closing !== null) return closedMesh('fetch');
    return client.fetch(url, init);
  };

  const appConnections = createAppConnections(client.send, transport.transport.upgrade !== undefined);

  const mesh: Mesh = {
    fetch,
    got: createMeshGot(fetch),
    get plan() {
      return source.current.plan;
    },
    get snapshot() {
      return source.current.snapshot;
    },
    on(event, listener) {
      (events as EventEmitter).on(event, listener as (...args: unknown[]) => void);
      return mesh;
    },
    off(event, listener) {
      (events as EventEmitter).off(event, listener as (...args: unknown[]) => void);
      return mesh;
    },
    close() {
      closing ??= (async () => {
        // The WebSockets the gateway relays: their servers no longer track them.
        for (const tunnel of gatewayTunnels) tunnel.destroy();
        await Promise.all([...gatewayTcpClosers].map((close) => close()));
        await Promise.all(
          [...gatewayServers].map(
            (s) =>
              new Promise<void>((resolve) => {
                s.close(() => resolve());
                s.closeAllConnections();
              }),
          ),
        );
        await admin?.close();
        await source.close();
        await inbound.close();
        appConnections.close();
        appTls.close();
        certWatcher?.close();
        clusters.close();
        await telemetry?.close();
        if (transport.owned) await transport.transport.close();
        events.removeAllListeners();
      })();
      return closing;
    },
    inbound: inbound.handle,
    metrics: telemetry?.registry ?? null,
    telemetry,
    admin: adminAddress,
    certs,
    listen: (app, port, host) => {
      if (closing !== null) return closedMesh('listen');
      return inbound.listen(app, port, host);
    },
    listenTcp: (handler, port, host) => {
      if (closing !== null) return closedMesh('listenTcp');
      return inbound.listenTcp(handler, port, host);
    },
    serverFactory: (handler) => inbound.serverFactory(handler) as unknown as Server,
    listenGateway: (gatewayOptions = {}) => {
      if (closing !== null) return closedMesh('listenGateway');
      return listenGateway(
        {
          getPlan,
          certs,
          certWatcher,
          clock,
          events,
          servers: gatewayServers,
          secrets: gatewaySecrets,
          telemetry,
          listener: (port) => mesh.gateway({ port }),
        },
        withCredentials(gatewayOptions),
      );
    },
    listenGatewayTcp: (tcpOptions = {}) => {
      if (closing !== null) return closedMesh('listenGatewayTcp');
      return listenGatewayTcp(
        {
          ...tcpParts(),
          workload,
          closers: gatewayTcpClosers,
          secrets: gatewaySecrets,
          certs,
          certWatcher,
          clock,
          events,
        },
        withCredentials(tcpOptions),
      );
    },
    connect: (target) => {
      if (closing !== null) return closedMesh('connect');
      return connectTcp(tcpParts(), target);
    },
    guardUpgrades: (server) => inbound.guardUpgrades(server),
    createConnection: (target) => {
      if (closing !== null)
        throw new MeshletError('MESHLET_ERR_MESH_CLOSED', 'mesh.createConnection: the mesh is closed', {});
      return appConnections.createConnection(target);
    },
    gateway: (gatewayOptions = {}) =>
      createGatewayListener(
        {
          getPlan,
          random,
          forward: internals.gatewayForward?.(client.forward) ?? client.forward,
          inbound: inbound.handle,
          telemetry,
          upgrades: transport.transport.upgrade !== undefined,
          tunnels: gatewayTunnels,
        },
        gatewayPort(workload, getPlan().gateway, gatewayOptions.port),
      ),
  };
  return mesh;
}
