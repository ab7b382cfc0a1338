import type { ResponseHeaders } from '../engine-types.js';

/** Envoy's check-request header saying whether the body sent was cut at maxRequestBytes. */
export const PARTIAL_BODY_HEADER = 'x-envoy-auth-partial-body';

/** What one ext_authz check decided, whichever transport (HTTP or gRPC) carried it. */
export type ExtAuthzResult =
  | {
      readonly kind: 'allow';
      /** Request headers to set before the app sees the request (values final: appends already joined). */
      readonly setHeaders: Readonly<Record<string, string>>;
      /** Request headers to remove (gRPC `headers_to_remove`, HTTP `x-envoy-auth-headers-to-remove`). */
      readonly removeHeaders: readonly string[];
      /** Headers added to the app's response. */
      readonly responseHeaders: ResponseHeaders;
      /** The request target after `query_parameters_to_set`/`_to_remove`; null when unchanged. */
      readonly url: string | null;
    }
  | {
      readonly kind: 'deny';
      readonly status: number;
      readonly body: string;
      readonly headers: ResponseHeaders;
      readonly detail: string;
      /** The check failed (no answer, a 5xx, a timeout): `statusOnError`, Envoy's `ext_authz_error`. */
      readonly failed?: boolean;
    };

/** An allow that changes nothing: failOpen, or a server that said OK and nothing else. */
export const PLAIN_ALLOW: ExtAuthzResult = Object.freeze({
  kind: 'allow',
  setHeaders: Object.freeze({}),
  removeHeaders: Object.freeze([]),
  responseHeaders: Object.freeze({}),
  url: null,
});

/** A failed check: `statusOnError` with no body, or an allow with `failOpen` (Envoy `failure_mode_allow`). */
export function extAuthzFailure(
  p: { readonly failOpen: boolean; readonly statusOnError: number },
  detail: string,
): ExtAuthzResult {
  if (p.failOpen) return PLAIN_ALLOW;
  return { kind: 'deny', status: p.statusOnError, body: '', headers: {}, detail, failed: true };
}
