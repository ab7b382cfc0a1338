import { istiodFeaturesFromEnv } from '../compile/istiod-features.js';
import { validateWorkload, type WorkloadIdentity } from '../compile/workload.js';
import { hasErrors } from '../config/diagnostic.js';
import { loadEntries, type TextSource } from '../config/load.js';
import type { ConfigSnapshot } from '../config/snapshot.js';
import { readSources, type SourceEntry } from '../config/sources.js';
import { MeshletError } from '../errors/meshlet-error.js';
import type { PeerIdentity } from '../inbound/request-context.js';
import { createMeshWith, type MeshInternals } from '../mesh/create-mesh.js';
import { configInvalid } from '../mesh/plan-source.js';
import type { Mesh } from '../mesh/types.js';
import { seededRandom } from '../runtime/random.js';
import { localMetadata, type PeerMetadata } from '../telemetry/metadata-exchange/peer-metadata.js';
import { AdapterCheck, appListener } from './app-listener.js';
import { directFetch, kubeProxy } from './direct-fetch.js';
import { istiodFetch } from './istiod-fetch.js';
import { MockNetwork, type MockCaller } from './mock-network.js';
import { MockTopology } from './mock-topology.js';
import { sidecarListener } from './sidecar-listener.js';
import { withXfcc } from './mock-xfcc.js';
import type {
  MockApp,
  MockConnection,
  MockGateway,
  MockGatewayOptions,
  MockHop,
  MockMesh,
  MockMeshOptions,
  MockService,
  MockServiceOptions,
  MockWorkload,
} from './types.js';
import { createVirtualClock, type VirtualClock } from './virtual-clock.js';
import { HandlerTracker } from './handler-tracker.js';
import { hopLogged, type Fetch } from './hop-log.js';
import { sumMetric } from './mesh-metric.js';
import { VIRTUAL_CLIENT_CREDENTIALS, virtualCertificates } from './virtual-certs.js';
import { mockGateway } from './mock-gateway.js';
import { connectionLogged, directConnect, type Connect, type DialedPods } from './mock-connections.js';
import { mockTcpDial } from './mock-tcp-dial.js';
import { mockTcpService, type PlaceInstance } from './mock-tcp-service.js';
import { MockWire } from './mock-wire.js';
import { MockRateLimitServices } from './mock-rate-limit.js';

/** Istio's injection labels the pod (and so its endpoints) with this; auto mTLS reads it. */
const TLS_MODE_LABEL = 'security.istio.io/tlsMode';

async function configEntries(config: MockMeshOptions['config']): Promise<(SourceEntry | TextSource)[]> {
  const list = config === undefined ? [] : typeof config === 'string' ? [config] : config;
  const out: (SourceEntry | TextSource)[] = [];
  for (const [i, item] of list.entries()) {
    if (/\r?\n/.test(item)) out.push({ text: item, file: `<config ${i}>` });
    else out.push(...(await readSources([item])));
  }
  return out;
}

/**
 * A whole mesh in one process, on virtual time (DESIGN.md "Mock mesh"): every workload
 * runs meshlet's real outbound pipeline and inbound engine with its own compiled plan,
 * and the calls between them travel over an in-memory network instead of sockets.
 * Canaries, fault injection, retries, timeouts, outlier ejection, mTLS modes, JWT and
 * AuthorizationPolicy behave as in a cluster with the same YAML, without waiting.
 *
 * @throws MeshletError (as a rejection) `MESHLET_ERR_CONFIG_INVALID` when the config has errors.
 */
export async function createMockMesh(options: MockMeshOptions = {}): Promise<MockMesh> {
  const entries = await configEntries(options.config);
  const applied: TextSource[] = [];
  const load = (extra: readonly TextSource[]): ConfigSnapshot =>
    loadEntries([...entries, ...applied, ...extra], {
      defaultNamespace: options.namespace ?? 'default',
      ...(options.meshConfig !== undefined ? { meshConfig: options.meshConfig } : {}),
    });
  const first = load([]);
  if (hasErrors(first.diagnostics)) throw configInvalid('createMockMesh', first.diagnostics);

  const topology = new MockTopology(first, {
    ...istiodFeaturesFromEnv(process.env),
    ...options.istiodFeatures,
  });
  const random = seededRandom(options.seed ?? 1);
  // External host names served by mock pods (`mm.service('api.example.com', ...)`), as DNS has them.
  const dns = new Map<string, string[]>();
  const external = (host: string): readonly string[] => dns.get(host) ?? [];
  const handlers = new HandlerTracker(() => clock.touch());
  const network: MockNetwork = new MockNetwork(
    () => clock.touch(),
    external,
    (work) => handlers.waiting(work),
    (hostname, port, namespace) => kubeProxy({ topology, external, random, namespace }, hostname, port),
  );
  // A TCP connection being made on the wire is real work: virtual time waits for it.
  const clock = createVirtualClock(
    () => network.inFlight > 0,
    () => handlers.settled() && network.connecting === 0,
  );
  const wire = new MockWire();
  const dialed: DialedPods = new WeakMap();
  const connections: MockConnection[] = [];
  // What tests and handlers see: a handler's sleep is time it waits on the mesh.
  const userClock: VirtualClock = {
    ...clock,
    sleep: (ms, signal) => handlers.waiting(() => clock.sleep(ms, signal)),
  };
  const log: MockHop[] = [];
  const resolveDns = (host: string): Promise<string[]> => {
    const found = dns.get(host.toLowerCase());
    return found !== undefined && found.length > 0
      ? Promise.resolve([...found])
      : Promise.reject(
          Object.assign(new Error(`getaddrinfo ENOTFOUND ${host} (mock mesh)`), { code: 'ENOTFOUND' }),
        );
  };
  const meshes: Promise<Mesh>[] = [];
  // A workload's metadata as its sidecar's exchange sends it (the mesh's cluster id).
  const cluster = (options.telemetry === false ? undefined : options.telemetry?.cluster) ?? 'Kubernetes';
  const metadataOf = (w: WorkloadIdentity): PeerMetadata => localMetadata(w, cluster);
  let pods = 0;
  let closed = false;

  const nextAddress = (): string => {
    pods++;
    return `10.${Math.floor(pods / 65536) % 256}.${Math.floor(pods / 256) % 256}.${pods % 256}`;
  };
  /** `given` when no pod serves `given:port` yet, a new address when none is given. */
  const freeAddress = (given: string | undefined, port: number, what: string): string => {
    if (given === undefined) return nextAddress();
    if (network.has(given, port)) {
      throw new MeshletError(
        'MESHLET_ERR_MESH_OPTIONS',
        `${what}: ${given}:${port} is already served by ${String(network.workloadAt(`${given}:${port}`))}`,
        { option: 'address' },
      );
    }
    return given;
  };

  const identityOf = (w: WorkloadIdentity): PeerIdentity => {
    const trustDomain = topology.snapshot.meshConfig.trustDomain;
    return {
      principal: `${trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount}`,
      trustDomain,
      namespace: w.namespace,
      serviceAccount: w.serviceAccount,
    };
  };

  // istiod fetches JWKS for the whole mesh, from its own pod: no identity, no sidecar.
  const jwksFetch = istiodFetch({
    network,
    topology,
    external,
    random,
    caller: { address: '10.255.255.254', identity: null },
    namespace: 'istio-system',
  });

  // Global rate limit filters' services, in memory on the virtual clock (mm.rateLimitService).
  const rateLimits = new MockRateLimitServices(() => clock.now());

  const startMesh = (
    workload: WorkloadIdentity,
    caller: MockCaller,
    gatewayForward?: MeshInternals['gatewayForward'],
  ): Promise<Mesh> => {
    if (closed) {
      return Promise.reject(new MeshletError('MESHLET_ERR_MESH_CLOSED', 'the mock mesh is closed', {}));
    }
    const mesh = createMeshWith(
      {
        workload,
        transport: network.transportFor(caller),
        clock,
        random,
        resolveDns,
        certs: virtualCertificates(caller.identity),
        ...(options.telemetry !== undefined ? { telemetry: options.telemetry } : {}),
      },
      {
        planSource: (w, hooks) => topology.source(w, hooks),
        jwksFetch,
        ...(gatewayForward === undefined ? {} : { gatewayForward }),
        tcpDial: mockTcpDial(network, wire, caller, dialed, metadataOf(workload)),
        // Its pods' TLS is simulated in the mock transport, not spoken on the wire.
        tcpForTlsRulesOnly: true,
        clientCredentials: VIRTUAL_CLIENT_CREDENTIALS,
        rateLimitAnswer: rateLimits.answer,
      },
    );
    meshes.push(mesh);
    return mesh;
  };

  const logged = (source: string, fetch: Fetch): Fetch => hopLogged(source, fetch, { clock, network, log });

  const workloadOf = (name: string, o: MockServiceOptions): WorkloadIdentity => {
    const meshed = o.mesh !== false;
    return {
      name,
      namespace: o.namespace ?? 'default',
      serviceAccount: o.serviceAccount ?? 'default',
      labels: { ...(meshed ? { [TLS_MODE_LABEL]: 'istio' } : {}), ...o.labels },
      ...(o.locality === undefined ? {} : { locality: o.locality }),
    };
  };

  /** A pod: its address, its mesh (started on first use) and its outbound calls. */
  const pod = (given: WorkloadIdentity, meshed: boolean, at?: string) => {
    // Checked now, so a bad name fails at mm.service / mm.workload, naming the field.
    const workload = validateWorkload(given);
    const address = at ?? nextAddress();
    const caller: MockCaller = {
      address,
      identity: meshed ? identityOf(workload) : null,
      namespace: workload.namespace,
    };
    const id = `${workload.namespace}/${workload.name}`;
    let mesh: Promise<Mesh> | null = null;
    const meshOf = (): Promise<Mesh> => {
      if (!meshed) {
        return Promise.reject(
          new MeshletError(
            'MESHLET_ERR_MESH_OPTIONS',
            `${id} runs without a sidecar (mesh: false): it has no mesh`,
            {},
          ),
        );
      }
      return (mesh ??= startMesh({ ...workload, ip: address }, caller));
    };
    const call: Fetch = meshed
      ? logged(id, async (url, init) => (await meshOf()).fetch(url, init))
      : logged(id, (url, init) =>
          directFetch(
            { network, topology, external, random, caller, namespace: workload.namespace },
            url,
            init,
          ),
        );
    // From inside a handler, an onward call is time the handler waits on the mesh.
    const fetch: Fetch = (url, init) => handlers.waiting(() => call(url, init));
    const direct = { network, topology, external, random, caller, namespace: workload.namespace };
    const dial = meshed ? null : mockTcpDial(network, wire, caller, dialed);
    const connect: Connect = connectionLogged(
      id,
      dial === null
        ? async (target) => (await meshOf()).connect(target)
        : (target) => directConnect(direct, dial, target),
      { clock, log: connections, dialed },
    );
    return { address, caller, id, meshOf, fetch, connect };
  };

  /**
   * Whether the Service of `host` has `port` among its endpoints' ports: a container port
   * its Service does not list is no endpoint (tcp-echo's 9002; Kubernetes EndpointSlices
   * carry the Service's ports only). With one port, or no Service in the config, the
   * Service port is the pod's (the mock's shorthand).
   */
  const exposes = (host: string, port: number): boolean => {
    const ports = topology.servicePorts(host);
    return ports === null || ports.length <= 1 || ports.some((x) => x.port === port || x.targetPort === port);
  };

  /**
   * A pod serving `name` on `ports`: its workload (labels, `<name>-<version>`), address,
   * mesh and calls, the host it serves, how a port joins the network and the registry (a
   * name with a dot is an external host, a ServiceEntry's or none: DNS finds the pod),
   * and how it leaves them.
   */
  const instance: PlaceInstance = (what, name, o, ports) => {
    const meshed = o.mesh !== false;
    const labels: Record<string, string> = { app: name, ...o.labels };
    const version = labels['version'];
    const workload = workloadOf(o.name ?? (version === undefined ? name : `${name}-${version}`), {
      ...o,
      labels,
    });
    const given = o.address;
    for (const port of ports) if (given !== undefined) freeAddress(given, port, `${what}('${name}')`);
    const p = pod(workload, meshed, given ?? nextAddress());
    const isExternal = name.includes('.');
    const host = isExternal ? name.toLowerCase() : `${name}.${workload.namespace}.svc.cluster.local`;
    return {
      workload,
      p,
      host,
      join: (port, serve) => {
        network.add({
          address: p.address,
          port,
          workload: p.id,
          identity: p.caller.identity,
          tlsName: host,
          modeFor: async (at) =>
            meshed ? (await p.meshOf()).plan.inbound.peerAuthentication.modeFor(at) : 'DISABLE',
          ...(meshed ? { metadata: metadataOf(workload) } : {}),
          ...serve,
        });
        if (isExternal) {
          if (!external(host).includes(p.address)) dns.set(host, [...external(host), p.address]);
        } else if (exposes(host, port))
          topology.addEndpoint(host, {
            address: p.address,
            port,
            labels: workload.labels,
            ...(meshed ? { serviceAccount: workload.serviceAccount } : {}),
            ...(o.locality === undefined ? {} : { locality: o.locality }),
          });
      },
      stop: () => {
        for (const port of ports) network.remove(p.address, port);
        if (isExternal)
          dns.set(
            host,
            external(host).filter((a) => a !== p.address),
          );
        else topology.removeEndpoint(host, p.address);
      },
    };
  };

  const mock: MockMesh = {
    service(name: string, o: MockServiceOptions, app: MockApp): MockService {
      const port = o.port ?? 80;
      const it = instance('mm.service', name, o, [port]);
      const { p, workload } = it;
      const listener = appListener(
        app,
        { fetch: p.fetch, connect: p.connect, workload },
        new AdapterCheck(o.adapter === true, p.id),
      );
      it.join(port, {
        serverTls: o.tls === true,
        // The pod (sidecar and app) counts as running until its response ends.
        listener: async () => {
          if (p.caller.identity === null) return handlers.serve(listener);
          const mesh = await p.meshOf();
          // With its own adapter the app decides, as behind mesh.listen; else the mock sidecar does.
          const decided = o.adapter === true ? listener : sidecarListener(mesh.inbound, listener);
          return handlers.serve(withXfcc(decided, mesh, p.caller.identity));
        },
      });
      return {
        workload,
        host: it.host,
        address: p.address,
        port,
        fetch: p.fetch,
        connect: p.connect,
        mesh: p.meshOf,
        stop: it.stop,
      };
    },
    tcpService: (name, o, handler) => mockTcpService(instance, name, o, handler),
    rateLimitService: (host, config, o) => rateLimits.add(host, config, o),
    gateway(name = 'istio-ingressgateway', o: MockGatewayOptions = {}): MockGateway {
      return mockGateway(
        {
          network,
          handlers,
          snapshot: () => topology.snapshot,
          address: freeAddress,
          startMesh,
          logged,
          identity: identityOf,
          // No tlsMode label, as on Istio's gateway pods (the gateway injection template sets
          // none), and no service account, which meshlet's registry takes as a mesh workload:
          // auto mTLS reaches a gateway's plain HTTP server in plaintext, as istiod decides it.
          addEndpoint: (host, address, port, workload) =>
            topology.addEndpoint(host, { address, port, labels: workload.labels }),
        },
        name,
        o,
      );
    },
    workload(o): MockWorkload {
      const name = o.name ?? o.serviceAccount ?? 'default';
      const workload = workloadOf(name, { ...o, labels: { app: name, ...o.labels } });
      const p = pod(workload, o.mesh !== false, o.address);
      return { workload, fetch: p.fetch, connect: p.connect, mesh: p.meshOf };
    },
    clock: userClock,
    get log() {
      return log;
    },
    get connections() {
      return connections;
    },
    get snapshot() {
      return topology.snapshot;
    },
    apply(yaml: string, how = {}) {
      const source: TextSource = {
        text: yaml,
        file: `<apply ${applied.length + 1}>`,
        ...(how.namespace === undefined ? {} : { namespace: how.namespace }),
      };
      const next = load([source]);
      if (hasErrors(next.diagnostics)) return Promise.reject(configInvalid('mm.apply', next.diagnostics));
      applied.push(source);
      topology.setSnapshot(next);
      return Promise.resolve();
    },
    async metric(name, labels) {
      const started = await Promise.allSettled(meshes);
      return sumMetric(
        started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
        name,
        labels,
      );
    },
    async close() {
      closed = true;
      const all = await Promise.allSettled(meshes);
      for (const r of all) if (r.status === 'fulfilled') await r.value.close();
      await wire.close();
    },
  };
  return mock;
}
