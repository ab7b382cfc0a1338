import type { MeshConfig } from '../../config/mesh-config.js';
import { providerOrigin } from '../../config/provider-endpoint.js';
import { parseGoDuration } from '../../config/validate/duration.js';
import { istioString, type StringTest } from './string-match.js';

/** A header name list from the provider config: exact, `prefix*` or `*suffix`, case-insensitive. */
export type HeaderNames = readonly StringTest[];

/**
 * A meshConfig `extensionProviders[].envoyExtAuthzHttp` entry, resolved once per
 * plan (istio/api mesh/v1alpha1/config.proto `EnvoyExternalAuthorizationHttpProvider`).
 */
export interface ExtAuthzHttpProvider {
  readonly name: string;
  /** `http://<service>:<port>`; `service` may carry a `<namespace>/` prefix, dropped here. */
  readonly origin: string;
  readonly pathPrefix: string;
  /** `timeout`, default 600s. */
  readonly timeoutMs: number;
  /** `failOpen`: allow when the server cannot be reached or times out. */
  readonly failOpen: boolean;
  /** `statusOnError`, default 403. */
  readonly statusOnError: number;
  /** `includeRequestHeadersInCheck` (Host, method, path and Authorization are always sent). */
  readonly includeRequestHeaders: HeaderNames;
  /** `includeAdditionalHeadersInCheck`. */
  readonly additionalHeaders: readonly (readonly [string, string])[];
  /** `headersToUpstreamOnAllow`: server response headers copied onto the request. */
  readonly headersToUpstreamOnAllow: HeaderNames;
  /** `headersToDownstreamOnAllow`: server response headers added to the app's response. */
  readonly headersToDownstreamOnAllow: HeaderNames;
  /** `headersToDownstreamOnDeny`; null = every server header (Envoy's default). */
  readonly headersToDownstreamOnDeny: HeaderNames | null;
}

function names(v: unknown): HeaderNames | null {
  if (v === undefined) return null;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw new Error('expected a list of header names');
  return v.map((n) => istioString(n, true));
}

/**
 * Resolves the provider a CUSTOM policy names. Returns a problem string when the
 * provider is missing, of another type, or misconfigured: Istio then turns the
 * policy into a deny of what it matches (authz/builder `deny-due-to-bad-CUSTOM-action`).
 */
export function resolveExtAuthzProvider(
  meshConfig: MeshConfig,
  name: string | null,
): ExtAuthzHttpProvider | string {
  if (name === null || name === '') return 'the CUSTOM policy names no provider';
  const p = meshConfig.extensionProviders.find((x) => x.name === name);
  if (p === undefined) return `extension provider ${JSON.stringify(name)} is not defined in meshConfig`;
  if (p.type !== 'envoyExtAuthzHttp')
    return `extension provider ${JSON.stringify(name)} is ${p.type}; meshlet supports envoyExtAuthzHttp only`;
  const c = p.config;
  try {
    const origin = providerOrigin(c);
    const timeout = c['timeout'];
    let timeoutMs = 600_000;
    if (timeout !== undefined) {
      const ms = typeof timeout === 'string' ? parseGoDuration(timeout) : null;
      if (ms === null || ms <= 0) throw new Error(`bad timeout ${JSON.stringify(timeout)}`);
      timeoutMs = ms;
    }
    const soe = c['statusOnError'];
    const statusOnError = soe === undefined ? 403 : Number(soe);
    if (!Number.isInteger(statusOnError) || statusOnError < 200 || statusOnError > 599)
      throw new Error(`bad statusOnError ${JSON.stringify(soe)}`);
    const pathPrefix = c['pathPrefix'];
    if (pathPrefix !== undefined && (typeof pathPrefix !== 'string' || !pathPrefix.startsWith('/')))
      throw new Error('pathPrefix must start with /');
    const extra = c['includeAdditionalHeadersInCheck'] ?? {};
    if (typeof extra !== 'object' || extra === null || Array.isArray(extra))
      throw new Error('includeAdditionalHeadersInCheck must be a map');
    return Object.freeze({
      name,
      origin,
      pathPrefix: pathPrefix ?? '',
      timeoutMs,
      failOpen: c['failOpen'] === true,
      statusOnError,
      includeRequestHeaders: names(c['includeRequestHeadersInCheck']) ?? [],
      additionalHeaders: Object.entries(extra as Record<string, unknown>).map(
        ([k, v]) => [k.toLowerCase(), String(v)] as const,
      ),
      headersToUpstreamOnAllow: names(c['headersToUpstreamOnAllow']) ?? [],
      headersToDownstreamOnAllow: names(c['headersToDownstreamOnAllow']) ?? [],
      headersToDownstreamOnDeny: names(c['headersToDownstreamOnDeny']),
    });
  } catch (err) {
    return `extension provider ${JSON.stringify(name)}: ${err instanceof Error ? err.message : String(err)}`;
  }
}
