import type { Clock } from '../../runtime/clock.js';
import type { InboundRequest } from '../engine-types.js';
import type { BodyPrefix } from '../request-body.js';
import type { ExtAuthzHttpProvider, HeaderNames } from './ext-authz-provider.js';
import { extAuthzFailure, PARTIAL_BODY_HEADER, type ExtAuthzResult } from './ext-authz-result.js';

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

function pick(res: Response, list: HeaderNames | null): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (NEVER_COPY.has(name)) return;
    if (list === null || listed(name, list)) out[name] = value;
  });
  return out;
}

function checkHeaders(p: ExtAuthzHttpProvider, req: InboundRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (name === 'authorization' || listed(name, p.includeRequestHeaders))
      out[name] = typeof value === 'string' ? value : value.join(',');
  }
  // fetch() will not send a caller's Host; the original authority travels here.
  out['x-forwarded-host'] = req.authority;
  for (const [k, v] of p.additionalHeaders) out[k] = v;
  return out;
}

async function readCapped(res: Response): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = (await reader.read()) as {
      done: boolean;
      value: Uint8Array;
    };
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= MAX_BODY) {
      await reader.cancel();
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
  deps: { readonly fetch: typeof fetch; readonly clock: Clock },
): Promise<ExtAuthzResult> {
  const headers = checkHeaders(p, req);
  // fetch() cannot send a GET or HEAD body; such a check goes without it (Envoy would send it).
  const sendBody = requestBody !== null && req.method !== 'GET' && req.method !== 'HEAD';
  if (requestBody !== null) headers[PARTIAL_BODY_HEADER] = requestBody.truncated ? 'true' : 'false';
  const ac = new AbortController();
  const timer = deps.clock.setTimeout(
    () => ac.abort(new Error(`ext_authz timeout after ${p.timeoutMs}ms`)),
    p.timeoutMs,
  );
  try {
    const res = await deps.fetch(p.origin + p.pathPrefix + url, {
      method: req.method,
      headers,
      ...(sendBody ? { body: requestBody.bytes } : {}),
      signal: ac.signal,
      redirect: 'manual',
    });
    if (res.status === 200) {
      await res.body?.cancel();
      // Envoy's HTTP service names the request headers to drop in this response header
      // (external_auth.proto OkHttpResponse.headers_to_remove); Host cannot be removed.
      const remove = (res.headers.get('x-envoy-auth-headers-to-remove') ?? '')
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h !== '' && h !== 'host' && !h.startsWith(':'));
      return {
        kind: 'allow',
        setHeaders: pick(res, p.headersToUpstreamOnAllow),
        removeHeaders: remove,
        responseHeaders: pick(res, p.headersToDownstreamOnAllow),
        url: null,
      };
    }
    // A 5xx is the authorization server failing, not denying: statusOnError, or an allow
    // with failOpen (envoy ext_authz_http_impl.cc toResponse; istio/api failOpen).
    if (res.status >= 500 && res.status <= 599) {
      await res.body?.cancel();
      return extAuthzFailure(p, `ext_authz provider ${p.name} failed: it answered ${res.status}`);
    }
    const body = await readCapped(res);
    return {
      kind: 'deny',
      status: res.status,
      body,
      headers: pick(res, p.headersToDownstreamOnDeny),
      detail: `ext_authz provider ${p.name} denied with ${res.status}`,
    };
  } catch (err) {
    const why = ac.signal.aborted
      ? `timed out after ${p.timeoutMs}ms`
      : err instanceof Error
        ? err.message
        : String(err);
    return extAuthzFailure(p, `ext_authz provider ${p.name} failed: ${why}`);
  } finally {
    deps.clock.clearTimeout(timer);
  }
}
