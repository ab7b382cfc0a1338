import type { MeshConfig } from '../../config/mesh-config.js';
import { providerOrigin } from '../../config/provider-endpoint.js';
import {
  extAuthzProviderProblem,
  isExtAuthzProviderType,
  readExtAuthzConfig,
  type RequestBodySettings,
} from '../../config/ext-authz-provider-config.js';
import { parseGoDuration } from '../../config/validate/duration.js';
import { istioString, type StringTest } from './string-match.js';

/** A header name list from the provider config: exact, `prefix*` or `*suffix`, case-insensitive. */
export type HeaderNames = readonly StringTest[];

/** What both ext_authz provider kinds share (istio/api mesh/v1alpha1/config.proto). */
interface ExtAuthzCommon {
  readonly name: string;
  /**
   * The provider's `service` host (without a `<namespace>/` prefix) and `port`: the check goes
   * to the cluster `outbound|<port>||<host>` when the mesh knows that service.
   */
  readonly host: string;
  readonly port: number;
  /** `timeout`, default 600s. */
  readonly timeoutMs: number;
  /** `failOpen`: allow when the server cannot be reached or times out. */
  readonly failOpen: boolean;
  /** `statusOnError`, default 403. */
  readonly statusOnError: number;
  /** `includeRequestBodyInCheck`; null = the check carries no body. */
  readonly body: RequestBodySettings | null;
}

/**
 * A meshConfig `extensionProviders[].envoyExtAuthzHttp` entry, resolved once per
 * plan (`EnvoyExternalAuthorizationHttpProvider`).
 */
export interface ExtAuthzHttpProvider extends ExtAuthzCommon {
  readonly kind: 'http';
  /** `http://<service>:<port>`; `service` may carry a `<namespace>/` prefix, dropped here. */
  readonly origin: string;
  readonly pathPrefix: string;
  /**
   * `includeRequestHeadersInCheck`, else the deprecated `includeHeadersInCheck`
   * (Host, method, path and Authorization are always sent).
   */
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

/** A meshConfig `extensionProviders[].envoyExtAuthzGrpc` entry (`EnvoyExternalAuthorizationGrpcProvider`). */
export interface ExtAuthzGrpcProvider extends ExtAuthzCommon {
  readonly kind: 'grpc';
  /** `<host>:<port>` for the gRPC channel. */
  readonly target: string;
  /** The `:authority` of the Check call: the service host name, as Envoy's EnvoyGrpc sets it. */
  readonly authority: string;
}

export type ExtAuthzProvider = ExtAuthzHttpProvider | ExtAuthzGrpcProvider;

function names(v: unknown): HeaderNames | null {
  if (v === undefined) return null;
  return (v as string[]).map((n) => istioString(n, true));
}

/**
 * Resolves the provider a CUSTOM policy names. In a mesh the check goes, as the sidecar
 * sends it, through the service's outbound cluster (DestinationRule TLS, auto mTLS;
 * outbound/cluster-call.ts); a service the registry does not know is reached directly by
 * DNS in plaintext. Returns a problem string when the provider is missing, of another
 * type, or misconfigured: Istio then turns the policy into a deny of what it matches
 * (authz/builder `deny-due-to-bad-CUSTOM-action`).
 * The config was read and validated at load (config/ext-authz-provider-config.ts);
 * its errors are the problem here.
 */
export function resolveExtAuthzProvider(
  meshConfig: MeshConfig,
  name: string | null,
): ExtAuthzProvider | string {
  const problem = extAuthzProviderProblem(meshConfig, name);
  const p = meshConfig.extensionProviders.find((x) => x.name === name);
  // The problem check found the provider and its type; the second test only narrows types.
  if (problem !== null || p === undefined || !isExtAuthzProviderType(p.type))
    return problem ?? `extension provider ${JSON.stringify(name)} is not usable`;
  const { config: c } = readExtAuthzConfig(p.type, p.config);
  const timeout = c['timeout'];
  const common = {
    name: p.name,
    timeoutMs: typeof timeout === 'string' ? (parseGoDuration(timeout) ?? 600_000) : 600_000,
    failOpen: c['failOpen'] === true,
    statusOnError:
      c['statusOnError'] === undefined || c['statusOnError'] === '' ? 403 : Number(c['statusOnError']),
    body: (c['includeRequestBodyInCheck'] as RequestBodySettings | null | undefined) ?? null,
  };
  const origin = providerOrigin(c);
  const service = String(c['service']);
  const endpoint = {
    host: service.includes('/') ? service.slice(service.indexOf('/') + 1) : service,
    port: Number(c['port']),
  };
  if (p.type === 'envoyExtAuthzGrpc') {
    const url = new URL(origin);
    return Object.freeze({ ...common, ...endpoint, kind: 'grpc', target: url.host, authority: url.hostname });
  }
  const extra = (c['includeAdditionalHeadersInCheck'] ?? {}) as Record<string, unknown>;
  return Object.freeze({
    ...common,
    ...endpoint,
    kind: 'http',
    origin,
    pathPrefix: typeof c['pathPrefix'] === 'string' ? c['pathPrefix'] : '',
    includeRequestHeaders:
      names(c['includeRequestHeadersInCheck']) ?? names(c['includeHeadersInCheck']) ?? [],
    additionalHeaders: Object.entries(extra).map(([k, v]) => [k.toLowerCase(), String(v)] as const),
    headersToUpstreamOnAllow: names(c['headersToUpstreamOnAllow']) ?? [],
    headersToDownstreamOnAllow: names(c['headersToDownstreamOnAllow']) ?? [],
    headersToDownstreamOnDeny: names(c['headersToDownstreamOnDeny']),
  });
}
