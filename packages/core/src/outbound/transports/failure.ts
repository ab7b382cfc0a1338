import { constants as osConstants } from 'node:os';
import { TransportError, type TransportFailure } from '../transport.js';

/** Codes a refused or unroutable connect reports (Envoy `UF`, retried under connect-failure). */
const CONNECT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

const CONNECT_TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_CONNECT_TIMEOUT']);

/** A connection that died under a request (Envoy `UR`/`UC`). */
const RESET_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

const TLS_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'HOSTNAME_MISMATCH',
  'EPROTO',
]);

/** The code meshlet's own peer check attaches to the error that refuses a connection. */
export const PEER_REJECTED_CODE = 'ERR_MESHLET_PEER_REJECTED';

interface Coded {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly event?: unknown;
  readonly cause?: unknown;
}

/** Every error in the `cause` chain (got and undici wrap the socket's error). */
function chain(err: unknown): Coded[] {
  const out: Coded[] = [];
  let cur: unknown = err;
  while (typeof cur === 'object' && cur !== null && out.length < 8) {
    out.push(cur);
    cur = (cur as Coded).cause;
  }
  return out;
}

/**
 * Envoy's transport failure reason for a failed connect: the socket error number as its
 * connection reports it (network/connection_impl.cc: `delayed connect error: <errno>`),
 * or `TLS error` for a refused handshake.
 */
function transportReasonOf(errors: readonly Coded[], failure: TransportFailure): string | null {
  if (failure === 'tls') return 'TLS error';
  if (failure !== 'connect-failure') return null;
  for (const e of errors) {
    const code = typeof e.code === 'string' ? e.code : '';
    const errno = (osConstants.errno as Readonly<Record<string, number | undefined>>)[code];
    if (errno !== undefined) return `delayed connect error: ${errno}`;
  }
  return null;
}

function failureOf(e: Coded): TransportFailure | null {
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  if (code === PEER_REJECTED_CODE || TLS_CODES.has(code)) return 'tls';
  if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.startsWith('CERT_')) return 'tls';
  if (
    CONNECT_TIMEOUT_CODES.has(code) ||
    (code === 'ETIMEDOUT' && (e.event === 'connect' || e.event === 'secureConnect'))
  ) {
    return 'connect-timeout';
  }
  if (CONNECT_CODES.has(code)) return 'connect-failure';
  if (RESET_CODES.has(code) || message === 'socket hang up' || message === 'other side closed') {
    return 'reset';
  }
  if (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === 'ERR_HTTP_CONTENT_LENGTH_MISMATCH') {
    return 'protocol';
  }
  return null;
}

/** What the transport knew when the error happened. */
export interface FailureContext {
  /** Our signal aborted: the failure is ours, whatever the socket said. */
  readonly aborted: boolean;
  /** No byte of this request was handed to a connected socket. */
  readonly beforeRequestSent: boolean;
}

/**
 * Maps a Node, got or undici error to Envoy's failure kinds (spec/traffic.md §3 retryOn
 * table, §4 flags). Connect and TLS failures never sent a request byte by definition.
 * Unknown errors are treated as a reset, which is what Envoy reports for a stream that
 * ended without a response.
 */
export function toTransportError(err: unknown, ctx: FailureContext): TransportError {
  if (err instanceof TransportError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (ctx.aborted) return new TransportError('aborted', message, ctx.beforeRequestSent, { cause: err });
  let failure: TransportFailure | null = null;
  const errors = chain(err);
  for (const e of errors) {
    failure = failureOf(e);
    if (failure !== null) break;
  }
  failure ??= 'reset';
  const before =
    failure === 'connect-failure' || failure === 'connect-timeout' || failure === 'tls'
      ? true
      : ctx.beforeRequestSent;
  return new TransportError(failure, message, before, {
    cause: err,
    transportFailureReason: transportReasonOf(errors, failure),
  });
}
