import type { AccessLogEntry } from './entry.js';
import { tlsFactsOf, type CertFacts, type TlsFacts } from './tls-fields.js';
import { defaultTime, formatTime, TIME_FORMAT_NEWLINE } from './time-format.js';
import type { OperatorResult } from './operators.js';

type Side = 'DOWNSTREAM' | 'UPSTREAM';
type FactReader = (f: TlsFacts) => string | null;

const joined = (v: readonly string[] | undefined): string | null =>
  v === undefined || v.length === 0 ? null : v.join(',');

const peer =
  (read: (c: CertFacts) => string | readonly string[]): FactReader =>
  (f) => {
    if (f.peer === null) return null;
    const v = read(f.peer);
    return typeof v === 'string' ? v : joined(v);
  };

const local =
  (read: (c: CertFacts) => string | readonly string[]): FactReader =>
  (f) => {
    if (f.local === null) return null;
    const v = read(f.local);
    return typeof v === 'string' ? v : joined(v);
  };

/**
 * The `%DOWNSTREAM_*%` / `%UPSTREAM_*%` TLS operators, by the name after the side (envoy
 * source/common/formatter/stream_info_formatter.cc, StreamInfoSslConnectionInfoFormatterProvider
 * and StreamInfoUpstreamSslConnectionInfoFormatterProvider: `-` without TLS, and for an
 * empty value). Envoy offers fewer on the upstream side: no LOCAL_SUBJECT, EMAIL SANs,
 * fingerprints or serial; those list only DOWNSTREAM.
 */
const FIELDS: Readonly<Record<string, { readonly sides: readonly Side[]; readonly read: FactReader }>> = {
  PEER_URI_SAN: { sides: ['DOWNSTREAM', 'UPSTREAM'], read: peer((c) => c.uriSans) },
  PEER_DNS_SAN: { sides: ['DOWNSTREAM', 'UPSTREAM'], read: peer((c) => c.dnsSans) },
  PEER_IP_SAN: { sides: ['DOWNSTREAM', 'UPSTREAM'], read: peer((c) => c.ipSans) },
  PEER_EMAIL_SAN: { sides: ['DOWNSTREAM'], read: peer((c) => c.emailSans) },
  LOCAL_URI_SAN: { sides: ['DOWNSTREAM', 'UPSTREAM'], read: local((c) => c.uriSans) },
  LOCAL_DNS_SAN: { sides: ['DOWNSTREAM', 'UPSTREAM'], read: local((c) => c.dnsSans) },
  LOCAL_IP_SAN: { sides: ['DOWNSTREAM', 'UPSTREAM'], read: local((c) => c.ipSans) },
  LOCAL_EMAIL_SAN: { sides: ['DOWNSTREAM'], read: local((c) => c.emailSans) },
  PEER_SUBJECT: { sides: ['DOWNSTREAM', 'UPSTREAM'], read: peer((c) => c.subject) },
  LOCAL_SUBJECT: { sides: ['DOWNSTREAM'], read: local((c) => c.subject) },
  PEER_ISSUER: { sides: ['DOWNSTREAM', 'UPSTREAM'], read: peer((c) => c.issuer) },
  PEER_CERT: { sides: ['DOWNSTREAM', 'UPSTREAM'], read: peer((c) => c.urlEncodedPem) },
  PEER_FINGERPRINT_256: { sides: ['DOWNSTREAM'], read: peer((c) => c.sha256) },
  PEER_FINGERPRINT_1: { sides: ['DOWNSTREAM'], read: peer((c) => c.sha1) },
  PEER_SERIAL: { sides: ['DOWNSTREAM'], read: peer((c) => c.serial) },
  TLS_VERSION: { sides: ['DOWNSTREAM', 'UPSTREAM'], read: (f) => f.tlsVersion },
  TLS_CIPHER: { sides: ['DOWNSTREAM', 'UPSTREAM'], read: (f) => f.cipher },
  TLS_SESSION_ID: { sides: ['DOWNSTREAM', 'UPSTREAM'], read: (f) => f.sessionId },
};

const connectionOf = (e: AccessLogEntry, side: Side) =>
  side === 'DOWNSTREAM' ? e.downstreamTls : e.upstreamTls;

/**
 * A TLS operator (`DOWNSTREAM_PEER_URI_SAN`...), or null when `name` is not one. The
 * upstream side reads the answering try's connection as the transport handed it over
 * (got does; undici does not, so there they print `-`).
 */
export function tlsOperator(name: string, arg: string | null): OperatorResult {
  const side: Side | null = name.startsWith('DOWNSTREAM_')
    ? 'DOWNSTREAM'
    : name.startsWith('UPSTREAM_')
      ? 'UPSTREAM'
      : null;
  if (side === null) return null;
  const rest = name.slice(side.length + 1);
  if (rest === 'PEER_CERT_V_START' || rest === 'PEER_CERT_V_END') {
    if (arg !== null && TIME_FORMAT_NEWLINE.test(arg)) return null;
    const end = rest === 'PEER_CERT_V_END';
    return (e) => {
      const tls = connectionOf(e, side);
      if (tls === null || tls === undefined) return null;
      const cert = tlsFactsOf(tls).peer;
      const at = cert === null ? null : end ? cert.validTo : cert.validFrom;
      if (at === null) return null;
      return arg === null || arg === '' ? defaultTime(at) : formatTime(arg, at);
    };
  }
  const field = FIELDS[rest];
  if (field !== undefined && !field.sides.includes(side) && arg === null) {
    // stream_info_formatter.cc has no such command: Envoy refuses the whole format.
    return {
      problem: `Envoy has no %${name}% (only %DOWNSTREAM_${rest}%) and refuses the format; meshlet prints "-"`,
    };
  }
  if (field === undefined || !field.sides.includes(side) || arg !== null) return null;
  const read = field.read;
  return (e) => {
    const tls = connectionOf(e, side);
    if (tls === null || tls === undefined) return null;
    const v = read(tlsFactsOf(tls));
    return v === '' ? null : v;
  };
}
