import { TOO_MANY_HEADERS_BODY } from '../inbound/normalize/header-count.js';
import type { ResponseFlag } from './meshlet-info.js';
import { NOT_IMPLEMENTED_BODY } from '../inbound/normalize/transfer-encoding.js';

/** A response the mesh answers itself (Envoy `sendLocalReply`). */
export interface LocalReply {
  readonly status: number;
  readonly headers: Record<string, string | readonly string[]>;
  readonly body: Buffer;
  readonly flag: ResponseFlag | null;
  /** Envoy's `%RESPONSE_CODE_DETAILS%` when it depends on more than the flag. */
  readonly details?: string;
  /** Envoy's `%UPSTREAM_TRANSPORT_FAILURE_REASON%`. */
  readonly transportFailureReason?: string;
}

/** Envoy's local-reply bodies (source/common/router/router.cc, spec/traffic.md §4). */
export const LOCAL_BODY = Object.freeze({
  noHealthyUpstream: 'no healthy upstream',
  timeout: 'upstream request timeout',
  fault: 'fault filter abort',
  reset: (reason: string) =>
    `upstream connect error or disconnect/reset before headers. reset reason: ${reason}`,
});

/** A plain-text local reply with `content-type` and `content-length`, as Envoy sends it. */
export function localReply(
  status: number,
  body: string,
  flag: ResponseFlag | null,
  extra?: Readonly<Record<string, string | readonly string[]>>,
): LocalReply {
  const buf = Buffer.from(body);
  const headers: Record<string, string | readonly string[]> = {};
  if (buf.length > 0) headers['content-type'] = 'text/plain';
  headers['content-length'] = String(buf.length);
  if (extra !== undefined) Object.assign(headers, extra);
  return { status, headers, body: buf, flag };
}

/** `503 UH`: no endpoint to pick (none, or all ejected). */
export const noHealthyUpstream = (): LocalReply => localReply(503, LOCAL_BODY.noHealthyUpstream, 'UH');

/** `503 UO` with `x-envoy-overloaded: true`: connection-pool overflow (spec/traffic.md §2). */
export const overflow = (): LocalReply =>
  localReply(503, LOCAL_BODY.reset('overflow'), 'UO', { 'x-envoy-overloaded': 'true' });

/** `504 UT`: the route timeout fired. */
export const upstreamTimeout = (): LocalReply => localReply(504, LOCAL_BODY.timeout, 'UT');

/**
 * `504 UT` when the last try's per-try timeout fired: the same reply, with Envoy's
 * details `upstream_per_try_timeout` (router.cc onPerTryTimeout, StreamInfo
 * ResponseCodeDetails::UpstreamPerTryTimeout).
 */
export const perTryTimeout = (): LocalReply => ({
  ...upstreamTimeout(),
  details: 'upstream_per_try_timeout',
});

/** `404 NR`: the VirtualService owns the host but no rule matched. Envoy sends no body. */
export const noRoute = (): LocalReply => localReply(404, '', 'NR');

/**
 * `431 DPE`: the application's request has more headers than the outbound listener's codec
 * takes (inbound/normalize/header-count.ts). There is no connection to close in-process.
 */
export const tooManyHeaders = (): LocalReply => ({
  ...localReply(431, TOO_MANY_HEADERS_BODY, 'DPE'),
  details: 'http1.too_many_headers',
});

/**
 * `431 DPE`: the application's request line and headers are larger than the outbound
 * listener's codec takes (inbound/normalize/header-size.ts).
 */
export const headersTooLarge = (): LocalReply => ({
  ...localReply(431, TOO_MANY_HEADERS_BODY, 'DPE'),
  details: 'http1.headers_too_large',
});

/**
 * `501 DPE`: the application's request has a transfer coding other than `chunked`, which the
 * outbound listener's codec does not implement (inbound/normalize/transfer-encoding.ts).
 */
export const invalidTransferEncoding = (): LocalReply => ({
  ...localReply(501, NOT_IMPLEMENTED_BODY, 'DPE'),
  details: 'http1.invalid_transfer_encoding',
});

/** `503 NC`: the destination cluster (host or subset) does not exist. */
export const noCluster = (): LocalReply => localReply(503, '', 'NC');

/** Envoy's reset reason and response flag for each transport failure (router.cc, http/utility.cc). */
const RESET_REASON = {
  'connect-failure': ['remote connection failure', 'UF'],
  'connect-timeout': ['connection timeout', 'UF'],
  tls: ['remote connection failure', 'UF'],
  reset: ['connection termination', 'UC'],
  protocol: ['protocol error', 'UR'],
} as const;

type TransportFailureKind = keyof typeof RESET_REASON;

/** The response flag a transport failure earns: `UF` for connect failures, `UC`, `UR`. */
export function transportFailureFlag(failure: TransportFailureKind): ResponseFlag {
  return RESET_REASON[failure][1];
}

/**
 * A transport failure before any response headers, as Envoy's router reports it
 * (router.cc onUpstreamReset; http/utility.cc resetReasonToString): connect failures are
 * `UF` ("remote connection failure", "connection timeout"), a closed connection `UC`,
 * other resets `UR`. The transport failure reason (`delayed connect error: 111`) follows
 * the reset reason in the body and, whitespace as `_`, in the response code details.
 */
export function transportFailureReply(
  failure: TransportFailureKind,
  transportFailureReason: string | null = null,
): LocalReply {
  const [reason, flag] = RESET_REASON[failure];
  const body =
    transportFailureReason === null
      ? reason
      : `${reason}, transport failure reason: ${transportFailureReason}`;
  const details = `upstream_reset_before_response_started{${reason}${transportFailureReason === null ? '' : `,${transportFailureReason}`}}`;
  return {
    ...localReply(503, LOCAL_BODY.reset(body), flag),
    details: details.replace(/\s/g, '_'),
    ...(transportFailureReason === null ? {} : { transportFailureReason }),
  };
}
