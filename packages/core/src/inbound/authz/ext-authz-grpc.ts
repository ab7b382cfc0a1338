import { randomBytes } from 'node:crypto';
import type { Client } from '@grpc/grpc-js';
import { createSecureContext } from 'node:tls';
import type { Clock } from '../../runtime/clock.js';
import type { ClusterCaller, ClusterEndpoint } from '../../outbound/cluster-call.js';
import type { TransportTls } from '../../outbound/transport.js';
import { sameTls } from '../../outbound/transports/pool-settings.js';
import { clientTlsOptions, type PeerCheck } from '../../outbound/transports/tls-options.js';
import { grpcJs } from '../../runtime/grpc-js.js';
import { grpcUnaryCall } from '../grpc-unary-call.js';
import type { InboundRequest } from '../engine-types.js';
import {
  decodeCheckResponse,
  encodeCheckRequest,
  type CheckResponse,
  type HeaderMutation,
} from './ext-authz-messages.js';
import type { BodyPrefix } from '../request-body.js';
import type { ExtAuthzGrpcProvider } from './ext-authz-provider.js';
import {
  EXT_AUTHZ_ERROR,
  EXT_AUTHZ_OK,
  EXT_AUTHZ_UNAUTHORIZED,
  type ExtAuthzTracer,
} from './ext-authz-span.js';
import {
  extAuthzFailure,
  PARTIAL_BODY_HEADER,
  PLAIN_ALLOW,
  type ExtAuthzResult,
} from './ext-authz-result.js';

const CHECK = '/envoy.service.auth.v3.Authorization/Check';
/** Envoy's gRPC async client span name: `async <service>.<method> egress`. */
const CHECK_SPAN = 'async envoy.service.auth.v3.Authorization.Check egress';
/** The most of a denial body passed on to the client, as for the HTTP provider. */
const MAX_BODY = 64 * 1024;

/** Open channels kept, across all providers and endpoints. */
const MAX_CHANNELS = 64;

interface Channel {
  readonly client: Client;
  readonly tls: TransportTls | null;
  readonly check: PeerCheck;
}

/**
 * One gRPC channel per endpoint and client TLS, reused across calls and plan reloads (ext_authz
 * checks, rate limit service calls); a rotated workload certificate (other TLS settings)
 * replaces the channel.
 */
export class ExtAuthzGrpcClients {
  readonly #channels = new Map<string, Channel>();

  /** The channel to `endpoint` (the cluster's pick, with its TLS), else to `service:port` in plaintext. */
  get(
    p: Pick<ExtAuthzGrpcProvider, 'target' | 'authority'>,
    endpoint: Pick<ClusterEndpoint, 'address' | 'tls'> | null,
  ): Client {
    const target = endpoint?.address ?? p.target;
    const tls = endpoint?.tls ?? null;
    const key = `${target}|${p.authority}`;
    const existing = this.#channels.get(key);
    if (existing !== undefined && sameTls(existing.tls, tls)) {
      // New connections check the server with the latest expectations, as the HTTP pools do.
      existing.check.verifyPeer = tls?.verifyPeer ?? null;
      return existing.client;
    }
    existing?.client.close();
    const g = grpcJs();
    const check: PeerCheck = { verifyPeer: tls?.verifyPeer ?? null };
    const options: Record<string, string> = { 'grpc.default_authority': p.authority };
    let credentials = g.credentials.createInsecure();
    if (tls !== null) {
      const o = clientTlsOptions(tls, check);
      const { checkServerIdentity, rejectUnauthorized, servername, ...context } = o;
      credentials = g.credentials.createFromSecureContext(createSecureContext(context), {
        checkServerIdentity,
        rejectUnauthorized,
      });
      // The rule's SNI, else the service host name (grpc-js would send the endpoint's IP).
      options['grpc.ssl_target_name_override'] = servername ?? p.authority;
    }
    const client = new g.Client(target, credentials, options);
    this.#channels.delete(key);
    this.#channels.set(key, { client, tls, check });
    // Endpoints come and go (DNS, config reloads): keep the channels of the most recent ones.
    if (this.#channels.size > MAX_CHANNELS) {
      const [oldestKey, oldest] = this.#channels.entries().next().value as [string, Channel];
      oldest.client.close();
      this.#channels.delete(oldestKey);
    }
    return client;
  }

  close(): void {
    for (const c of this.#channels.values()) c.client.close();
    this.#channels.clear();
  }
}

/**
 * Envoy's `ext_authz_status` for a gRPC check, from the CheckResponse status
 * (ext_authz_grpc_impl.cc onSuccess); a failed call has none.
 */
const checkSpanTags = (res: CheckResponse) => ({
  ext_authz_status:
    res.code === 0 ? EXT_AUTHZ_OK : res.error !== null ? EXT_AUTHZ_ERROR : EXT_AUTHZ_UNAUTHORIZED,
});

/** What the check needs beyond the request: the channels, the clock, the local certificate's SAN. */
export interface GrpcCheckDeps {
  readonly clients: ExtAuthzGrpcClients;
  /** The mesh's outbound clusters: the check goes to an endpoint of the provider's service, with its TLS. */
  readonly upstream: ClusterCaller | null;
  readonly clock: Clock;
  /** `spiffe://...` of the local workload; sent as the destination principal on TLS connections. */
  readonly localPrincipal: string;
  /** Starts the check's span under the request's; null: no span. */
  readonly tracer?: ExtAuthzTracer | null;
}

function joined(v: string | readonly string[] | undefined): string | undefined {
  return v === undefined ? undefined : typeof v === 'string' ? v : v.join(',');
}

/**
 * The request headers as Envoy hands them to a gRPC authorization server: every header
 * (istiod sets no `allowed_headers` for a gRPC provider), the HTTP/1 request's Host as
 * `:authority` beside `:method`, `:path` and `:scheme`, repeats joined with `,`
 * (CVE-2021-32777: the server must see every value).
 */
function checkHeaders(req: InboundRequest, url: string): Record<string, string> {
  const out: Record<string, string> = {
    ':authority': req.authority,
    ':method': req.method,
    ':path': url,
    ':scheme': req.scheme,
  };
  for (const name of Object.keys(req.headers)) {
    if (name === 'host' || name.startsWith(':')) continue;
    const v = joined(req.headers[name]);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

// RFC 9110 field-name token and field-value characters: a mutation outside them cannot
// be put on an HTTP/1.1 message.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function validHeader(m: HeaderMutation): boolean {
  return TOKEN.test(m.name) && FIELD_VALUE.test(m.value);
}

/**
 * Applies header mutations to `current` as Envoy's ext_authz filter does, returning the
 * final value of each header it touches: overwrite (the default when neither `append`
 * nor `append_action` is set), append (joined with `,`), add-if-absent,
 * overwrite-if-exists.
 */
function mutate(
  mutations: readonly HeaderMutation[],
  current: (name: string) => string | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of mutations) {
    const name = m.name.toLowerCase();
    const existing = out[name] ?? current(name);
    switch (m.action) {
      case 'overwrite-or-add':
        out[name] = m.value;
        break;
      case 'append':
        out[name] = existing === undefined ? m.value : `${existing},${m.value}`;
        break;
      case 'add-if-absent':
        if (existing === undefined) out[name] = m.value;
        break;
      case 'overwrite-if-exists':
        if (existing !== undefined) out[name] = m.value;
        break;
    }
  }
  return out;
}

/** `query_parameters_to_set` (overwrites) and `query_parameters_to_remove` on the request target. */
function editQuery(
  url: string,
  set: readonly (readonly [string, string])[],
  remove: readonly string[],
): string | null {
  if (set.length === 0 && remove.length === 0) return null;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  for (const name of remove) params.delete(name);
  for (const [k, v] of set) params.set(k, v);
  const query = params.toString();
  return query === '' ? path : `${path}?${query}`;
}

function toResult(
  p: ExtAuthzGrpcProvider,
  req: InboundRequest,
  url: string,
  r: CheckResponse,
): ExtAuthzResult {
  const mutations = [
    ...(r.denied?.headers ?? []),
    ...(r.error?.headers ?? []),
    ...(r.ok?.headers ?? []),
    ...(r.ok?.responseHeadersToAdd ?? []),
  ];
  // Envoy's `validate_mutations` would reject these; without it they cannot reach an
  // HTTP/1.1 message at all. Treated as a failed check, never as a silent allow.
  const bad = mutations.find((m) => !validHeader(m));
  if (bad !== undefined)
    return extAuthzFailure(
      p,
      `ext_authz provider ${p.name} returned an invalid header ${JSON.stringify(bad.name)}`,
    );
  if (r.code !== 0 && r.error !== null) {
    // An error_response is the server failing, not denying (ext_authz_grpc_impl.cc onSuccess
    // sets CheckStatus::Error; external_auth.proto CheckResponse.error_response): failOpen
    // allows it; else the reply has its status (statusOnError when it sets none), headers
    // and body.
    if (p.failOpen) return PLAIN_ALLOW;
    return {
      kind: 'deny',
      status: r.error.status > 0 ? r.error.status : p.statusOnError,
      body: r.error.body.slice(0, MAX_BODY),
      headers: mutate(r.error.headers, () => undefined),
      detail: `ext_authz provider ${p.name} answered an error with gRPC status ${r.code}${r.message === '' ? '' : ` (${r.message})`}`,
      failed: true,
    };
  }
  if (r.code !== 0) {
    // Any status but OK denies: 403 unless denied_response carries another status
    // (ext_authz_grpc_impl.cc onSuccess).
    const status = r.denied !== null && r.denied.status > 0 ? r.denied.status : 403;
    return {
      kind: 'deny',
      status,
      body: (r.denied?.body ?? '').slice(0, MAX_BODY),
      headers: mutate(r.denied?.headers ?? [], () => undefined),
      detail: `ext_authz provider ${p.name} denied with gRPC status ${r.code}${r.message === '' ? '' : ` (${r.message})`}`,
    };
  }
  if (r.ok === null) return PLAIN_ALLOW;
  const current = (name: string) => joined(req.headers[name]);
  return {
    kind: 'allow',
    setHeaders: mutate(r.ok.headers, current),
    // Pseudo-headers and Host cannot be removed (external_auth.proto headers_to_remove).
    removeHeaders: r.ok.headersToRemove
      .map((h) => h.toLowerCase())
      .filter((h) => h !== 'host' && !h.startsWith(':')),
    responseHeaders: mutate(r.ok.responseHeadersToAdd, () => undefined),
    url: editQuery(url, r.ok.queryParametersToSet, r.ok.queryParametersToRemove),
  };
}

/**
 * One `envoy.service.auth.v3.Authorization/Check` call, as Envoy's gRPC ext_authz
 * client makes it for an `envoyExtAuthzGrpc` provider: the AttributeContext of the
 * request (source and destination addresses and principals, method, normalized path
 * with query, host, scheme, every header), and the body read for
 * `includeRequestBodyInCheck` (`body`, or `raw_body` with `packAsBytes`). OK allows with the server's header
 * and query edits; any other status denies, unless the response is an `error_response`;
 * that, a transport error or the provider's `timeout` (on the injected clock) is a failed
 * check: `statusOnError` (or the error_response's reply), or an allow with `failOpen`.
 */
export function checkExtAuthzGrpc(
  p: ExtAuthzGrpcProvider,
  req: InboundRequest,
  url: string,
  body: BodyPrefix | null,
  deps: GrpcCheckDeps,
): Promise<ExtAuthzResult> {
  const headers = checkHeaders(req, url);
  // Envoy marks a buffered body as whole or cut at maxRequestBytes (istio/api
  // EnvoyExternalAuthorizationRequestBody.allow_partial_message).
  if (body !== null) headers[PARTIAL_BODY_HEADER] = body.truncated ? 'true' : 'false';
  const length = Number(joined(req.headers['content-length']));
  const message = encodeCheckRequest({
    source: {
      address: req.sourceIp,
      port: req.sourcePort ?? 0,
      principal: req.peer === null ? '' : `spiffe://${req.peer.principal}`,
    },
    destination: {
      address: req.destinationIp,
      port: req.port,
      principal: req.scheme === 'https' ? deps.localPrincipal : '',
    },
    timeMs: Date.now(),
    id: randomBytes(8).readBigUInt64BE().toString(),
    method: req.method,
    headers,
    path: url,
    host: req.authority,
    scheme: req.scheme,
    size: Number.isSafeInteger(length) && length >= 0 ? length : -1,
    protocol: 'HTTP/1.1',
    sni: req.sni,
    body: body === null ? null : body.bytes,
    packAsBytes: p.body?.packAsBytes === true,
  });
  return grpcCheckCall(
    p,
    message,
    deps,
    (res) => toResult(p, req, url, res),
    (why) => extAuthzFailure(p, `ext_authz provider ${p.name} failed: ${why}`),
  );
}

/**
 * One Check call to provider `p` with the encoded `message`: an endpoint of the provider's
 * cluster (outlier detection hears the outcome), the provider's timeout on the clock, the
 * call's span; `answer` reads the CheckResponse, `fail` makes the result of a transport
 * error, a gRPC error status or a timeout.
 */
export function grpcCheckCall<T>(
  p: ExtAuthzGrpcProvider,
  message: Buffer,
  deps: GrpcCheckDeps,
  answer: (res: CheckResponse) => T,
  failed: (why: string) => T,
): Promise<T> {
  return grpcUnaryCall(
    {
      host: p.host,
      port: p.port,
      timeoutMs: p.timeoutMs,
      method: CHECK,
      spanName: CHECK_SPAN,
      decode: decodeCheckResponse,
      spanTags: checkSpanTags,
      client: (endpoint) => deps.clients.get(p, endpoint),
      target: p.target,
    },
    message,
    { upstream: deps.upstream, clock: deps.clock, tracer: deps.tracer ?? null },
    answer,
    failed,
  );
}
