import { connect, type TLSSocket } from 'node:tls';
import type { ClientTls } from './support.js';
import type { Offer } from './tls-offer.js';

/** How one TLS connection attempt to a mesh server ended, as the client saw it. */
export interface Attempt {
  /** The client's own handshake completed ('secureConnect'). */
  readonly secured: boolean;
  /** The client's error `code` (e.g. ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED), or null. */
  readonly code: string | null;
  /** The TLS alert OpenSSL reported to the client (`reason`, e.g. "tlsv13 alert certificate required"), or null. */
  readonly reason: string | null;
  /** The first line of an HTTP response, or null when none came. */
  readonly status: string | null;
}

/**
 * Connect as `client`, send one HTTP/1.1 request once the client's handshake completes and
 * wait for the connection to end: a TLS alert from the server arrives as the client's
 * error (in the handshake for TLS 1.2, on the first read for TLS 1.3).
 */
export function attempt(port: number, client: ClientTls, offer: Offer = {}): Promise<Attempt> {
  return new Promise((resolve) => {
    let secured = false;
    let code: string | null = null;
    let reason: string | null = null;
    let response = '';
    const socket: TLSSocket = connect({
      host: '127.0.0.1',
      port,
      ...client,
      ...offer,
      checkServerIdentity: () => undefined,
    });
    socket.on('secureConnect', () => {
      secured = true;
      socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    socket.on('data', (c: Buffer) => (response += c.toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException & { reason?: string }) => {
      code ??= err.code ?? null;
      reason ??= err.reason ?? null;
    });
    socket.on('close', () =>
      resolve({ secured, code, reason, status: response === '' ? null : (response.split('\r\n')[0] ?? '') }),
    );
  });
}
