import type { Socket } from 'node:net';
import type { TcpDial } from '../outbound/tcp-dial.js';
import type { PeerMetadata } from '../telemetry/metadata-exchange/peer-metadata.js';
import { MX_ALPN } from '../telemetry/metadata-exchange/tcp-exchange.js';
import { TransportError } from '../outbound/transport.js';
import { mockHandshake } from './mock-handshake.js';
import type { MockCaller, MockNetwork } from './mock-network.js';
import type { MockWire } from './mock-wire.js';

/** An error as Node's socket reports it, with `code`. */
function socketError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * How a mock pod's sidecar (and a pod without one) opens a TCP connection: to the pod at
 * the address and port, as the mock network decides the handshake (mock-handshake.ts),
 * over a loopback pair on the wire. No pod there: `ECONNREFUSED`. A failed handshake (mTLS
 * to a pod without a sidecar, a SAN the caller does not expect): a TLS error before the
 * connection is up (`UF`, `TLS error`). A port that closes the connection (STRICT to a
 * plaintext client): it connects and is closed at once, as a sidecar's listener does with
 * a connection no filter chain takes. `dialed` learns which pod each socket reached;
 * `metadata` is the caller's, for the metadata exchange this wire stands in for.
 */
export function mockTcpDial(
  network: MockNetwork,
  wire: MockWire,
  caller: MockCaller,
  dialed: WeakMap<Socket, { address: string; workload: string }>,
  metadata: PeerMetadata | null = null,
): TcpDial {
  return (to, tls) => {
    const { client, connect } = wire.socket();
    // Istio's TCP metadata exchange, as the two sidecars would run it over the mTLS this
    // wire stands for: a client offering `istio-peer-exchange` to a sidecar's port.
    let exchanged: PeerMetadata | null = null;
    const offersExchange = tls?.alpn?.includes(MX_ALPN) === true;
    const done = network.beginConnect();
    client.once('close', done);
    const key = network.addressFor(caller, to.address, to.port);
    void (async () => {
      const endpoint = network.endpointAt(key);
      if (endpoint === undefined)
        throw socketError('ECONNREFUSED', `connect ECONNREFUSED ${key} (mock mesh)`);
      const accept = endpoint.tcp;
      if (accept === undefined) {
        throw socketError(
          'ECONNREFUSED',
          `connect ECONNREFUSED ${key} (mock mesh: ${endpoint.workload} serves HTTP there (mm.service); TCP connections reach mm.tcpService pods)`,
        );
      }
      const mode = await endpoint.modeFor(to.port);
      let peer = null;
      let closeAtOnce = false;
      try {
        peer = mockHandshake(caller, endpoint, key, mode, tls, null);
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        if (err.failure !== 'reset') throw socketError('EPROTO', err.message);
        closeAtOnce = true;
      }
      dialed.set(client, { address: key, workload: endpoint.workload });
      const exchange = offersExchange && peer !== null && endpoint.metadata !== undefined;
      if (exchange) exchanged = endpoint.metadata ?? null;
      connect((serverEnd) => {
        done();
        if (closeAtOnce) {
          serverEnd.destroy();
          return;
        }
        accept(serverEnd, {
          peer,
          mode,
          port: to.port,
          remote: caller.address,
          sni: tls?.servername ?? null,
          metadata: exchange ? metadata : null,
        });
      });
    })().catch((err: unknown) => {
      client.destroy(err instanceof Error ? err : new Error(String(err)));
    });
    return { socket: client, up: 'connect', exchangedPeer: () => exchanged };
  };
}
