import { isIP, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import inject from 'light-my-request';
import { mockHandshake } from './mock-handshake.js';
import type { MtlsMode } from '../compile/inbound-types.js';
import { REFUSED } from '../outbound/transports/memory-transport.js';
import { recordConnectionPeer } from '../inbound/server/peer-registry.js';
import type { PeerIdentity } from '../inbound/request-context.js';
import type { PeerMetadata } from '../telemetry/metadata-exchange/peer-metadata.js';
import {
  TransportError,
  type Transport,
  type TransportRequest,
  type TransportResponse,
} from '../outbound/transport.js';
import type { RequestListener } from './app-listener.js';

/** One pod in the mock network. */
export interface MockEndpoint {
  readonly address: string;
  readonly port: number;
  /** `<namespace>/<workload name>`. */
  readonly workload: string;
  /** Its SPIFFE identity, presented as the server certificate's URI SAN; null without a sidecar. */
  readonly identity: PeerIdentity | null;
  /**
   * The app serves TLS itself (an HTTPS server), with a certificate for `tlsName` (a DNS
   * SAN): callers must originate TLS to it (DestinationRule SIMPLE, or an https URL).
   */
  readonly serverTls: boolean;
  readonly tlsName: string;
  /** PeerAuthentication mode of its port now; a pod without a sidecar takes plaintext only. */
  modeFor(port: number): Promise<MtlsMode>;
  /** The sidecar and application, once the pod's mesh is up. */
  listener(): Promise<RequestListener>;
  /** Its workload's metadata (a sidecar's TCP metadata exchange frame); absent without a sidecar. */
  readonly metadata?: PeerMetadata;
  /**
   * A gateway pod, whose listener takes the client's own TLS (or plaintext): null when it
   * serves the connection, else why it refuses it. `sni` is the ClientHello's name; null
   * with `tls` false. Replaces the sidecar handshake for its port.
   */
  readonly downstreamTls?: (tls: boolean, sni: string | null) => Promise<string | null>;
  /** A TCP pod (`mm.tcpService`): takes the server's end of each connection; absent for an HTTP pod. */
  readonly tcp?: (socket: Socket, arrival: MockTcpArrival) => void;
}

/** What a mock TCP pod learns of a connection the network made to it. */
export interface MockTcpArrival {
  /** The verified mTLS peer; null for plaintext. */
  readonly peer: PeerIdentity | null;
  readonly mode: MtlsMode;
  readonly port: number;
  /** The caller's pod address. */
  readonly remote: string;
  /** The SNI the caller's sidecar sent (auto mTLS: `outbound_.<port>_.<subset>_.<host>`). */
  readonly sni: string | null;
  /** The caller's metadata, as its TCP metadata exchange frame would carry it; null without one. */
  readonly metadata: PeerMetadata | null;
}

/** Who is calling: its identity when it has a sidecar, and its address. */
export interface MockCaller {
  readonly address: string;
  readonly identity: PeerIdentity | null;
  /** The pod's namespace, where its DNS search path resolves a Service's short name. */
  readonly namespace?: string;
}

/**
 * Cluster DNS and kube-proxy for a name the sidecar passes through (PassthroughCluster): the
 * `ip:port` of one of the Service's endpoints, on its `targetPort`; null when no Service
 * of the caller's cluster DNS has the name.
 */
export type KubeProxy = (hostname: string, port: number, namespace: string) => string | null;

interface FakeSocket {
  localAddress?: string;
  localPort?: number;
  remotePort?: number;
  encrypted?: boolean;
  servername?: string | false;
}

/**
 * The mock mesh's wire: routes each attempt by `address:port` to the pod there, and plays
 * the connection the sidecars would make. An Istio client that offers mTLS presents its
 * identity and checks the server's against what it expects (the SAN check of real TLS); a
 * STRICT port closes a plaintext connection, as a sidecar does (the caller's sidecar reports
 * `UC`); a pod without a sidecar cannot speak TLS, so an mTLS attempt fails its handshake
 * (`UF`, `TLS error`). The request then goes through the pod's sidecar and application as
 * an in-memory HTTP request (light-my-request), with no socket.
 */
export class MockNetwork {
  readonly #endpoints = new Map<string, MockEndpoint>();
  #inFlight = 0;
  #connecting = 0;
  readonly #onActivity: () => void;
  readonly #lookup: (host: string) => readonly string[];
  readonly #kubeProxy: KubeProxy;
  readonly #waiting: <T>(work: () => Promise<T>) => Promise<T>;

  /**
   * `lookup` is the mock DNS, for attempts addressed by name (a passthrough call);
   * `waiting` marks a pod that sends a request as waiting on the mesh until the answer.
   */
  constructor(
    onActivity: () => void,
    lookup: (host: string) => readonly string[],
    waiting: <T>(work: () => Promise<T>) => Promise<T>,
    kubeProxy: KubeProxy = () => null,
  ) {
    this.#onActivity = onActivity;
    this.#lookup = lookup;
    this.#waiting = waiting;
    this.#kubeProxy = kubeProxy;
  }

  /** Calls and dispatches under way (the virtual clock advances only while some are). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** TCP connections being made on the wire: real work the virtual clock waits for. */
  get connecting(): number {
    return this.#connecting;
  }

  /** Count a TCP connection being made until `done` is called (once is enough). */
  beginConnect(): () => void {
    this.#connecting++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.#connecting--;
      this.#onActivity();
    };
  }

  /** The pod at `ip:port`. */
  endpointAt(key: string): MockEndpoint | undefined {
    return this.#endpoints.get(key);
  }

  /** An IP as it is, a name as the mock DNS resolves it (the first address), else the name. */
  resolve(name: string): string {
    return isIP(name.replace(/^\[|\]$/g, '')) !== 0 ? name : (this.#lookup(name.toLowerCase())[0] ?? name);
  }

  /**
   * Where `caller` reaches `hostname:port` on its own (the sidecar's PassthroughCluster): an
   * address as it is, an external name where DNS says, a Service's name through kube-proxy
   * (one of its endpoints on the targetPort). `ip:port`, or `name:port` when nothing has it.
   */
  addressFor(caller: MockCaller, hostname: string, port: number): string {
    const ip = this.resolve(hostname);
    if (ip !== hostname || isIP(hostname.replace(/^\[|\]$/g, '')) !== 0) return `${ip}:${port}`;
    const picked = caller.namespace === undefined ? null : this.#kubeProxy(hostname, port, caller.namespace);
    return picked ?? `${hostname}:${port}`;
  }

  add(endpoint: MockEndpoint): void {
    this.#endpoints.set(`${endpoint.address}:${endpoint.port}`, endpoint);
  }

  has(address: string, port: number): boolean {
    return this.#endpoints.has(`${address}:${port}`);
  }

  remove(address: string, port: number): void {
    this.#endpoints.delete(`${address}:${port}`);
  }

  /** The pod at `address:port`, for the hop log. */
  workloadAt(endpoint: string): string | null {
    return this.#endpoints.get(endpoint)?.workload ?? null;
  }

  /** Count `work` as in flight, so virtual time may pass while it waits on a timer. */
  async track<T>(work: () => Promise<T>): Promise<T> {
    this.#inFlight++;
    this.#onActivity();
    try {
      return await this.#waiting(work);
    } finally {
      this.#inFlight--;
      this.#onActivity();
    }
  }

  /** The transport a caller's mesh sends through. */
  transportFor(caller: MockCaller): Transport {
    return {
      name: 'mock',
      request: (req) => this.track(() => this.#dispatch(caller, req)),
      close: () => Promise.resolve(),
    };
  }

  /** A plaintext request from a pod without a sidecar, straight to an endpoint. */
  send(caller: MockCaller, req: TransportRequest): Promise<TransportResponse> {
    return this.track(() => this.#dispatch(caller, req));
  }

  async #dispatch(caller: MockCaller, req: TransportRequest): Promise<TransportResponse> {
    const port = Number(req.url.port === '' ? (req.url.protocol === 'https:' ? 443 : 80) : req.url.port);
    // An attempt addressed by name (the passthrough cluster) connects where DNS says, as the
    // app's own resolver would have sent it.
    const key = this.addressFor(caller, req.url.hostname, port);
    const endpoint = this.#endpoints.get(key);
    if (endpoint === undefined) {
      throw new TransportError('connect-failure', `connect ECONNREFUSED ${key} (mock mesh)`, true, {
        transportFailureReason: REFUSED,
      });
    }
    if (endpoint.tcp !== undefined) {
      // An HTTP request to a raw TCP server gets no HTTP response back.
      throw new TransportError(
        'reset',
        `socket hang up (${key} is ${endpoint.workload}'s TCP port (mm.tcpService): it does not speak HTTP)`,
        false,
      );
    }
    if (req.signal?.aborted === true) {
      throw new TransportError('aborted', 'request aborted before it was sent', true);
    }
    const mode = await endpoint.modeFor(port);
    const tls = req.tls;
    // The caller's own TLS (an https URL the sidecar passes through to the app); with `tls`
    // set, the https scheme is the sidecar's own origination instead.
    const appTls = req.url.protocol === 'https:' && tls === null;
    // A gateway terminates the client's own TLS (its servers' certificates), else a sidecar
    // decides the connection.
    const terminated = endpoint.downstreamTls !== undefined && tls !== null ? tls.servername : undefined;
    const peer =
      endpoint.downstreamTls !== undefined
        ? await gatewayHandshake(endpoint.downstreamTls, key, tls)
        : mockHandshake(caller, endpoint, key, mode, tls, appTls ? req.url.hostname : null);
    const listener = await endpoint.listener();
    const body = req.body;
    const run = inject(
      (rq, rs) => {
        const socket = rq.socket as unknown as FakeSocket;
        socket.localAddress = endpoint.address;
        socket.localPort = port;
        socket.remotePort = 40000;
        if (terminated !== undefined) {
          socket.encrypted = true;
          socket.servername = terminated ?? false;
        } else if (tls !== null) {
          socket.encrypted = true;
          recordConnectionPeer(rq.socket, { peer, xfccElement: null });
        }
        listener(rq, rs);
      },
      {
        method: req.method as 'GET',
        url: `${req.url.pathname}${req.url.search}`,
        headers: req.headers as Record<string, string>,
        remoteAddress: caller.address,
        ...(body === null ? {} : { payload: body }),
      },
    );
    // What a server that fails outside its handler does to the connection: a reset.
    const res = await abortable(run, req.signal).catch((err: unknown) => {
      if (err instanceof TransportError) throw err;
      throw new TransportError('reset', err instanceof Error ? err.message : String(err), false, {
        cause: err,
      });
    });
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.map(String) : String(value);
    }
    const out = new Readable({ read() {} });
    if (res.rawPayload.length > 0) out.push(res.rawPayload);
    out.push(null);
    return { status: res.statusCode, headers, body: out };
  }
}

/**
 * A client's connection to a gateway pod: its own TLS (or plaintext) as the gateway's
 * listener takes it. No peer: the client is outside the mesh.
 * @throws TransportError `tls` (a refused handshake) or `reset` (plaintext closed by a TLS port).
 */
async function gatewayHandshake(
  downstreamTls: NonNullable<MockEndpoint['downstreamTls']>,
  key: string,
  tls: TransportRequest['tls'],
): Promise<null> {
  const refused = await downstreamTls(tls !== null, tls?.servername ?? null);
  if (refused === null) return null;
  if (tls === null) throw new TransportError('reset', `socket hang up (${key}: ${refused})`, false);
  throw new TransportError('tls', `TLS handshake with ${key} failed: ${refused}`, true, {
    transportFailureReason: 'TLS error',
  });
}

function abortable<T>(work: Promise<T>, signal: AbortSignal | null): Promise<T> {
  if (signal === null) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(new TransportError('aborted', 'request aborted', false, { cause: signal.reason }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
