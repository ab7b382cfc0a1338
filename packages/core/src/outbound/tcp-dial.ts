import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { PeerMetadata } from '../telemetry/metadata-exchange/peer-metadata.js';
import type { TransportTls } from './transport.js';
import { clientTlsOptions } from './transports/tls-options.js';

/** Where a TCP connection goes: an endpoint's address (or, for PassthroughCluster, a host name) and port. */
export interface DialTarget {
  readonly address: string;
  readonly port: number;
}

/**
 * A connection on its way: `socket` buffers writes until it is up, and emits `up` once it
 * is (`connect` for plain TCP, `secureConnect` once a TLS handshake is done), else `error`.
 */
export interface DialedConnection {
  readonly socket: Socket;
  readonly up: 'connect' | 'secureConnect';
  /**
   * For a wire that stands in for the TLS handshake (the mock mesh's): what Istio's TCP
   * metadata exchange would have learnt of the peer once the connection is up, when the
   * connection offered it (ALPN `istio-peer-exchange`) to a sidecar. Absent on the network,
   * where the exchange itself runs.
   */
  readonly exchangedPeer?: () => PeerMetadata | null;
}

/**
 * How `mesh.connect` and the gateway's tcp_proxy open an upstream connection: over the
 * network by default; the mock mesh swaps in its own wire.
 */
export type TcpDial = (to: DialTarget, tls: TransportTls | null) => DialedConnection;

/** Real sockets: plain TCP, or TLS with the cluster's client context. */
export const netDial: TcpDial = (to, tls) => {
  if (tls === null) return { socket: netConnect({ host: to.address, port: to.port }), up: 'connect' };
  const socket = tlsConnect({
    ...clientTlsOptions(tls, { verifyPeer: tls.verifyPeer }),
    host: to.address,
    port: to.port,
  });
  return { socket, up: 'secureConnect' };
};

/** The dialled socket once it is up; rejects with the socket's error when it fails first. */
export function untilUp(d: DialedConnection): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    d.socket.once('error', onError);
    d.socket.once(d.up, () => {
      d.socket.off('error', onError);
      resolve(d.socket);
    });
  });
}
