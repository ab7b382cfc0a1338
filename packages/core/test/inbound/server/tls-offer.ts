import { connect, type TLSSocket } from 'node:tls';
import type { ClientTls } from './support.js';

/** What a test client offers in its ClientHello. */
export interface Offer {
  readonly ciphers?: string;
  readonly ecdhCurve?: string;
  readonly maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3';
  readonly ALPNProtocols?: string[];
}

/** What the server chose for a client offering `offer`. */
export interface Chosen {
  readonly cipher: string;
  readonly alpn: string | false;
}

/** Handshake with a mesh server as `client`; rejects when the handshake fails. */
export function handshake(port: number, client: ClientTls, offer: Offer = {}): Promise<Chosen> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect(
      { host: '127.0.0.1', port, ...client, ...offer, checkServerIdentity: () => undefined },
      () => {
        resolve({ cipher: socket.getCipher().name, alpn: socket.alpnProtocol ?? false });
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}
