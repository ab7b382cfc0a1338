import { STATUS_CODES } from 'node:http';
import type { Clock } from '../../runtime/clock.js';
import type { InboundRequest, ResponseHeaders } from '../engine-types.js';
import type { BodyPrefix } from '../request-body.js';
import type { ExtAuthzHttpProvider, HeaderNames } from './ext-authz-provider.js';
import { extAuthzFailure, PARTIAL_BODY_HEADER, type ExtAuthzResult } from './ext-authz-result.js';
import {
  EXT_AUTHZ_OK,
  EXT_AUTHZ_UNAUTHORIZED,
  type ExtAuthzSpanResult,
  type ExtAuthzTracer,
} from './ext-authz-span.js';

export type { ExtAuthzResult } from './ext-authz-result.js';

/** The most of a denial body passed on to the client. */
const MAX_BODY = 64 * 1024;

// Not forwarded from the authorization server's response (hop-by-hop or framing).
const NEVER_COPY = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'host',
  'date',
  'upgrade',
]);

function listed(name: string, list: HeaderNames): boolean {
  for (const t of list) if (t(name)) return true;
  return false;
}

/**
 * The authorization server's answer to one check: lower-case header names, repeats joined
 * with `, ` except Set-Cookie, which keeps one value per cookie.
 */
export interface CheckReply {
  readonly status: number;
  readonly headers: ResponseHeaders;
  readonly body: AsyncIterable<Uint8Array> | null;
  /** Drops the rest of the body. */
  discard(): void;
}

/** One check request: the method, `pathPrefix` + path, the headers (with `host`) and the body. */
export interface CheckRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer | null;
  readonly signal: AbortSignal;
}

/** Sends a check to the provider; rejects when no answer came (connection failure, abort). */
export type CheckSend = (p: ExtAuthzHttpProvider, req: CheckRequest) => Promise<CheckReply>;

/**
 * A `CheckSend` over `fetch`, for an engine used without a mesh. fetch cannot set Host, so
 * the original authority travels as `x-forwarded-host`, and it cannot send a GET or HEAD
 * body, so such a check goes without one (Envoy would send both).
 */
export function checkSendByFetch(fetchImpl: typeof fetch): CheckSend {
  return async (p, req) => {
    const headers = { ...req.headers };
    const host = headers['host'];
    delete headers['host'];
    if (host !== undefined) headers['x-forwarded-host'] = host;
    const sendBody = req.body !== null && req.method !== 'GET' && req.method !== 'HEAD';
    const res = await fetchImpl(p.origin + req.path, {
      method: req.method,
      headers,
      ...(sendBody ? { body: req.body } : {}),
      signal: req.signal,
      redirect: 'manual',
    });
    const out: Record<string, string | string[]> = {};
    res.headers.forEach((value, name) => {
      out[name] = value;
    });
    const cookies = res.headers.getSetCookie();
    if (cookies.length > 1) out['set-cookie'] = cookies;
    const body = res.body;
    return {
      status: res.status,
      headers: out,
      body: body as AsyncIterable<Uint8Array> | null,
      discard: () => {
        body?.cancel().catch(() => undefined);
      },
    };
  };
}

/** The reply's headers `list` allows (all when null) for the client's response. */
function pick(
  reply: CheckReply,
  list: HeaderNames | null,
  always: ReadonlySet<string> = NONE,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(reply.headers)) {
    if (NEVER_COPY.has(name)) continue;
    if (list === null || always.has(name) || listed(name, list)) out[name] = value;
  }
  return out;
}

/** The reply's headers `list` allows for the upstream request, one value each. */
function pickForRequest(reply: CheckReply, list: HeaderNames): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(pick(reply, list)))
    out[name] = typeof value === 'string' ? value : value.join(', ');
  return out;
}

const NONE: ReadonlySet<string> = new Set();
/**
 * What a denial passes to the client beside a `headersToDownstreamOnDeny` list: Envoy adds
 * `:status`, Content-Length, WWW-Authenticate and Location to any non-empty list
 * (ext_authz_http_impl.cc toClientMatchers), so a login redirect keeps its target.
 */
const ALWAYS_ON_DENY: ReadonlySet<string> = new Set(['www-authenticate', 'location']);

/**
 * The headers Envoy's HTTP ext_authz client sends (ext_authz_http_impl.cc): Host, method,
 * path (the request line carries them), Content-Length and Authorization always, the
 * `includeRequestHeadersInCheck` ones, then `includeAdditionalHeadersInCheck`.
 */
function checkHeaders(p: ExtAuthzHttpProvider, req: InboundRequest): Record<string, string> {
  const out: Record<string, string> = { host: req.authority };
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === 'host' || name === 'content-length' || name.startsWith(':')) continue;
    if (name === 'authorization' || listed(name, p.includeRequestHeaders))
      out[name] = typeof value === 'string' ? value : value.join(',');
  }
  for (const [k, v] of p.additionalHeaders) out[k] = v;
  return out;
}

async function readCapped(body: AsyncIterable<Uint8Array> | null, discard: () => void): Promise<string> {
  if (body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const value of body) {
    chunks.push(value);
    size += value.byteLength;
    if (size >= MAX_BODY) {
      discard();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY).toString('utf8');
}

/**
 * One check against an `envoyExtAuthzHttp` server, as Envoy's HTTP ext_authz
 * client makes it: the original method, `pathPrefix` + the normalized path and
 * query, the configured request headers, and the body read for
 * `includeRequestBodyInCheck` with `x-envoy-auth-partial-body`. A 200 allows (copying
 * `headersToUpstreamOnAllow` / `headersToDownstreamOnAllow`); any other status below
 * 500 denies with that status, the server's body and `headersToDownstreamOnDeny`.
 * A 5xx, a network error or the timeout denies with `statusOnError` unless `failOpen`.
 * The timeout runs on the injected clock.
 */
export async function checkExtAuthz(
  p: ExtAuthzHttpProvider,
  req: InboundRequest,
  url: string,
  requestBody: BodyPrefix | null,
  deps: { readonly send: CheckSend; readonly clock: Clock; readonly tracer?: ExtAuthzTracer | null },
): Promise<ExtAuthzResult> {
  const headers = checkHeaders(p, req);
  if (requestBody !== null) headers[PARTIAL_BODY_HEADER] = requestBody.truncated ? 'true' : 'false';
  const path = p.pathPrefix + url;
  const cluster = `outbound|${p.port}||${p.host}`;
  const span =
    deps.tracer?.({
      name: `async ${cluster} egress`,
      method: req.method,
      url: p.origin + path,
      cluster,
    }) ?? null;
  if (span !== null) Object.assign(headers, span.headers);
  let answered = 0;
  let failure: string | null = null;
  const ac = new AbortController();
  const timer = deps.clock.setTimeout(
    () => ac.abort(new Error(`ext_authz timeout after ${p.timeoutMs}ms`)),
    p.timeoutMs,
  );
  try {
    const res = await deps.send(p, {
      method: req.method,
      path,
      headers,
      body: requestBody === null ? null : requestBody.bytes,
      signal: ac.signal,
    });
    answered = res.status;
    if (res.status === 200) {
      res.discard();
      // Envoy's HTTP service names the request headers to drop in this response header
      // (external_auth.proto OkHttpResponse.headers_to_remove); Host cannot be removed.
      const named = res.headers['x-envoy-auth-headers-to-remove'] ?? '';
      const remove = (typeof named === 'string' ? named : named.join(','))
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h !== '' && h !== 'host' && !h.startsWith(':'));
      return {
        kind: 'allow',
        setHeaders: pickForRequest(res, p.headersToUpstreamOnAllow),
        removeHeaders: remove,
        responseHeaders: pick(res, p.headersToDownstreamOnAllow),
        url: null,
      };
    }
    // A 5xx is the authorization server failing, not denying: statusOnError, or an allow
    // with failOpen (envoy ext_authz_http_impl.cc toResponse; istio/api failOpen).
    if (res.status >= 500 && res.status <= 599) {
      res.discard();
      return extAuthzFailure(p, `ext_authz provider ${p.name} failed: it answered ${res.status}`);
    }
    const body = await readCapped(res.body, () => res.discard());
    return {
      kind: 'deny',
      status: res.status,
      body,
      headers: pick(res, p.headersToDownstreamOnDeny, ALWAYS_ON_DENY),
      detail: `ext_authz provider ${p.name} denied with ${res.status}`,
    };
  } catch (err) {
    const why = ac.signal.aborted
      ? `timed out after ${p.timeoutMs}ms`
      : err instanceof Error
        ? err.message
        : String(err);
    failure = why;
    return extAuthzFailure(p, `ext_authz provider ${p.name} failed: ${why}`);
  } finally {
    deps.clock.clearTimeout(timer);
    span?.end(httpCheckSpanResult(answered, failure));
  }
}

/**
 * Envoy's tags for an HTTP check (ext_authz_http_impl.cc onBeforeFinalizeUpstreamSpan):
 * the status phrase in `ext_authz_http_status`, and `ext_authz_ok` for a 200, else
 * `ext_authz_unauthorized`; none when no response came.
 */
function httpCheckSpanResult(status: number, failure: string | null): ExtAuthzSpanResult {
  if (status === 0) return { status: 0, tags: {}, error: failure ?? 'no response' };
  return {
    status,
    tags: {
      ext_authz_http_status: STATUS_CODES[status] ?? 'Unknown',
      ext_authz_status: status === 200 ? EXT_AUTHZ_OK : EXT_AUTHZ_UNAUTHORIZED,
    },
    error: null,
  };
}
