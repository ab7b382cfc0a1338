import type { ResponseFlag } from './meshlet-info.js';

/** A response the mesh answers itself (Envoy `sendLocalReply`). */
export interface LocalReply {
  readonly status: number;
  readonly headers: Record<string, string | readonly string[]>;
  readonly body: Buffer;
  readonly flag: ResponseFlag | null;
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
  extra?: Record<string, string>,
): LocalReply {
  const buf = Buffer.from(body);
  const headers: Record<string, string> = {};
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

/** `504 UT`: the route timeout (or the last per-try timeout) fired. */
export const upstreamTimeout = (): LocalReply => localReply(504, LOCAL_BODY.timeout, 'UT');

/** `404 NR`: the VirtualService owns the host but no rule matched. Envoy sends no body. */
export const noRoute = (): LocalReply => localReply(404, '', 'NR');

/** `503 NC`: the destination cluster (host or subset) does not exist. */
export const noCluster = (): LocalReply => localReply(503, '', 'NC');

/**
 * A transport failure before any response headers, as Envoy's router reports it:
 * connect failures are `UF`, a closed connection `UC`, other resets `UR`.
 */
export function transportFailureReply(
  failure: 'connect-failure' | 'connect-timeout' | 'tls' | 'reset' | 'protocol',
): LocalReply {
  switch (failure) {
    case 'connect-failure':
      return localReply(503, LOCAL_BODY.reset('connection failure'), 'UF');
    case 'connect-timeout':
      return localReply(503, LOCAL_BODY.reset('connection timeout'), 'UF');
    case 'tls':
      return localReply(
        503,
        LOCAL_BODY.reset('connection failure, transport failure reason: TLS error'),
        'UF',
      );
    case 'reset':
      return localReply(503, LOCAL_BODY.reset('connection termination'), 'UC');
    case 'protocol':
      return localReply(503, LOCAL_BODY.reset('protocol error'), 'UR');
  }
}
