import { describe, expect, it } from 'vitest';
import type { TransportFailure } from '../../../src/outbound/transport.js';
import { toTransportError } from '../../../src/outbound/transports/failure.js';

const coded = (code: string, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error(code), { code, ...extra });

describe('toTransportError', () => {
  it.each<[string, unknown, TransportFailure, boolean]>([
    ['refused', coded('ECONNREFUSED'), 'connect-failure', true],
    ['host unreachable', coded('EHOSTUNREACH'), 'connect-failure', true],
    ['network unreachable', coded('ENETUNREACH'), 'connect-failure', true],
    ["got's connect timeout", coded('ETIMEDOUT', { event: 'connect' }), 'connect-timeout', true],
    ["got's TLS handshake timeout", coded('ETIMEDOUT', { event: 'secureConnect' }), 'connect-timeout', true],
    ["undici's connect timeout", coded('UND_ERR_CONNECT_TIMEOUT'), 'connect-timeout', true],
    ['reset', coded('ECONNRESET'), 'reset', false],
    ['broken pipe', coded('EPIPE'), 'reset', false],
    ['socket hang up', new Error('socket hang up'), 'reset', false],
    ["undici's socket error", coded('UND_ERR_SOCKET'), 'reset', false],
    ['an untrusted chain', coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'tls', true],
    ['a host-name mismatch', coded('ERR_TLS_CERT_ALTNAME_INVALID'), 'tls', true],
    ['a parse error', coded('HPE_INVALID_CONSTANT'), 'protocol', false],
    ['a wrapped reset', new Error('wrapped', { cause: coded('ECONNRESET') }), 'reset', false],
    ['something unknown', new Error('???'), 'reset', false],
  ])('maps %s to %s', (_what, err, failure, before) => {
    const mapped = toTransportError(err, { aborted: false, beforeRequestSent: false });
    expect(mapped.failure).toBe(failure);
    expect(mapped.beforeRequestSent).toBe(before);
  });

  it('reports our own abort as aborted whatever the socket said', () => {
    const mapped = toTransportError(coded('ECONNRESET'), { aborted: true, beforeRequestSent: true });
    expect([mapped.failure, mapped.beforeRequestSent]).toEqual(['aborted', true]);
  });

  it('keeps a reset before any byte was sent as beforeRequestSent', () => {
    expect(
      toTransportError(coded('ECONNRESET'), { aborted: false, beforeRequestSent: true }).beforeRequestSent,
    ).toBe(true);
  });
});
