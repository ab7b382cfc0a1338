import type { FieldPath } from '../diagnostic.js';
import {
  fields,
  readBool,
  readDuration,
  readEnum,
  readObject,
  readString,
  readUint32,
  typedConfigBody,
  type Problem,
  type Reader,
} from './local-rate-limit-read.js';
import { deepFreeze, readHeaders, readHttpStatus, readStatus, type HeaderToAdd } from './local-rate-limit.js';

/**
 * Envoy's global rate limit HTTP filter `envoy.filters.http.ratelimit`
 * (envoy api/envoy/extensions/filters/http/ratelimit/v3/rate_limit.proto), parsed from an
 * EnvoyFilter patch into a validated, plain, frozen object. Semantics: spec/security.md §5
 * ("Global"), envoy source/extensions/filters/http/ratelimit/ratelimit.cc.
 */

export const RATE_LIMIT_FILTER = 'envoy.filters.http.ratelimit';
/** The names Envoy's filter registry also takes (the sample's `envoy.ratelimit` among them). */
export const RATE_LIMIT_FILTER_NAMES: ReadonlySet<string> = new Set([
  RATE_LIMIT_FILTER,
  'envoy.ratelimit',
  'envoy.rate_limit',
]);
export const RATE_LIMIT_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit';

/** Where the filter sends ShouldRateLimit: `grpc_service.envoy_grpc`. */
export interface RateLimitServiceRef {
  /** The Envoy cluster: an Istio `outbound|<port>|<subset>|<host>` one, or one a CLUSTER patch adds. */
  readonly clusterName: string;
  /** `:authority` of the calls; Envoy's default is the cluster name. */
  readonly authority: string | null;
}

export interface GlobalRateLimitConfig {
  readonly domain: string;
  readonly stage: number;
  readonly requestType: 'internal' | 'external' | 'both';
  /** ms; null: no timeout (`0s`). Default 20 ms (config.cc). */
  readonly timeoutMs: number | null;
  /** Default false: an RLS error lets the request through. */
  readonly failureModeDeny: boolean;
  /** `status_on_error`, default 500. */
  readonly statusOnError: number;
  /** `rate_limited_status`, default 429; below 400 becomes 429. */
  readonly rateLimitedStatus: number;
  readonly rateLimitedAsResourceExhausted: boolean;
  readonly enableXRateLimitHeaders: boolean;
  readonly disableXEnvoyRateLimitedHeader: boolean;
  readonly responseHeadersToAdd: readonly HeaderToAdd[];
  readonly statPrefix: string;
  /** null when the service is one meshlet cannot call (warned). */
  readonly service: RateLimitServiceRef | null;
}

export interface GlobalRateLimitParse {
  readonly config: GlobalRateLimitConfig | null;
  readonly errors: readonly Problem[];
  readonly warnings: readonly Problem[];
  /** Valid config Envoy still refuses, or will not act as its author meant. */
  readonly notices: readonly Problem[];
}

/** Where the RateLimit message sits inside a `typed_config` (direct or TypedStruct). */
export function rateLimitBody(
  typedConfig: unknown,
  path: FieldPath,
): { body: unknown; path: FieldPath } | null {
  return typedConfigBody(typedConfig, path, RATE_LIMIT_TYPE_URL);
}

const KNOWN = [
  'domain',
  'stage',
  'request_type',
  'timeout',
  'failure_mode_deny',
  'rate_limited_as_resource_exhausted',
  'rate_limit_service',
  'enable_x_ratelimit_headers',
  'disable_x_envoy_ratelimited_header',
  'rate_limited_status',
  'response_headers_to_add',
  'status_on_error',
  'stat_prefix',
  'apply_on_stream_done',
  'failure_mode_deny_percent',
  'filter_enabled',
  'filter_enforced',
  'rate_limits',
];
/** Fields of newer Envoys' RateLimit meshlet does not act on: warned, the filter runs without them. */
const NOT_APPLIED = [
  'apply_on_stream_done',
  'failure_mode_deny_percent',
  'filter_enabled',
  'filter_enforced',
  'rate_limits',
];

export function parseGlobalRateLimit(typedConfig: unknown, path: FieldPath): GlobalRateLimitParse {
  const r: Reader = { errors: [], warnings: [] };
  const notices: Problem[] = [];
  const done = (config: GlobalRateLimitConfig | null): GlobalRateLimitParse =>
    Object.freeze({
      config: r.errors.length === 0 && config !== null ? deepFreeze(config) : null,
      errors: Object.freeze([...r.errors]),
      warnings: Object.freeze([...r.warnings]),
      notices: Object.freeze(notices),
    });
  const located = rateLimitBody(typedConfig, path);
  if (located === null) {
    r.errors.push({
      path,
      message: `typed_config must be a ${RATE_LIMIT_TYPE_URL} (directly or in a TypedStruct)`,
    });
    return done(null);
  }
  const obj = readObject(r, located.body, located.path);
  if (obj === null) return done(null);
  const body = { ...obj };
  delete body['@type'];
  const at = located.path;
  const f = fields(r, body, at, KNOWN);
  for (const name of NOT_APPLIED) {
    const v = f.get(name);
    if (v !== undefined)
      r.warnings.push({ path: v[1], message: `${name} is not supported by meshlet and is ignored` });
  }
  const d = f.get('domain');
  const domain = d === undefined ? required(r, [...at, 'domain'], 'domain') : readString(r, d[0], d[1], true);
  const st = f.get('stage');
  const stage = st === undefined ? 0 : readUint32(r, st[0], st[1]);
  if (stage > 10) r.errors.push({ path: st?.[1] ?? at, message: 'value must be less than or equal to 10' });
  const rt = f.get('request_type');
  let requestType: GlobalRateLimitConfig['requestType'] = 'both';
  if (rt !== undefined) {
    const v = readString(r, rt[0], rt[1]);
    // rate_limit.proto: request_type in ["internal", "external", "both", ""].
    if (v === 'internal' || v === 'external' || v === 'both') requestType = v;
    else if (v !== '')
      r.errors.push({ path: rt[1], message: 'value must be in list [internal external both ]' });
  }
  const t = f.get('timeout');
  // config.cc: 20 ms unless set; 0 means no timeout.
  const ms = t === undefined ? 20 : (readDuration(r, t[0], t[1]) ?? 20);
  const se = f.get('status_on_error');
  let statusOnError = 500;
  if (se !== undefined) {
    const code = readHttpStatus(r, se[0], se[1]) ?? 500;
    // ratelimit.h toRatelimitServerErrorCode: 100..511, else 500.
    statusOnError = code >= 100 && code <= 511 ? code : 500;
  }
  const rs = f.get('rate_limited_status');
  const rh = f.get('response_headers_to_add');
  const xr = f.get('enable_x_ratelimit_headers');
  const sp = f.get('stat_prefix');
  return done({
    domain,
    stage,
    requestType,
    timeoutMs: ms <= 0 ? null : ms,
    failureModeDeny: flag(r, f.get('failure_mode_deny')),
    statusOnError,
    rateLimitedStatus: rs === undefined ? 429 : readStatus(r, rs[0], rs[1]),
    rateLimitedAsResourceExhausted: flag(r, f.get('rate_limited_as_resource_exhausted')),
    enableXRateLimitHeaders:
      xr !== undefined &&
      readEnum(r, xr[0], xr[1], ['OFF', 'DRAFT_VERSION_03'] as const) === 'DRAFT_VERSION_03',
    disableXEnvoyRateLimitedHeader: flag(r, f.get('disable_x_envoy_ratelimited_header')),
    responseHeadersToAdd: rh === undefined ? [] : readHeaders(r, rh[0], rh[1]),
    statPrefix: sp === undefined ? '' : readString(r, sp[0], sp[1]),
    service: readService(r, notices, f.get('rate_limit_service'), [...at, 'rate_limit_service']),
  });
}

function readService(
  r: Reader,
  notices: Problem[],
  v: [unknown, FieldPath] | undefined,
  path: FieldPath,
): RateLimitServiceRef | null {
  if (v === undefined) {
    r.errors.push({ path, message: 'Required value: rate_limit_service is required' });
    return null;
  }
  const obj = readObject(r, v[0], v[1]);
  if (obj === null) return null;
  const f = fields(r, obj, v[1], ['grpc_service', 'transport_api_version']);
  const tv = f.get('transport_api_version');
  const version = tv === undefined ? 'AUTO' : readEnum(r, tv[0], tv[1], ['AUTO', 'V2', 'V3'] as const);
  if (version !== 'V3' && version !== null) {
    // envoy source/common/config/utility.h checkTransportVersion: the filter's factory fails,
    // so the proxy rejects the listener that carries it.
    notices.push({
      path: tv?.[1] ?? [...v[1], 'transport_api_version'],
      message: `Envoy refuses a rate_limit_service whose transport_api_version is not V3 ("V2 (and AUTO) xDS transport protocol versions are deprecated"): the proxy rejects the listener with this filter, and meshlet does not apply it. Set transport_api_version: V3`,
    });
    return null;
  }
  const g = f.get('grpc_service');
  if (g === undefined) {
    r.errors.push({ path: [...v[1], 'grpc_service'], message: 'Required value: grpc_service is required' });
    return null;
  }
  const grpc = readObject(r, g[0], g[1]);
  if (grpc === null) return null;
  const gf = fields(r, grpc, g[1], [
    'envoy_grpc',
    'google_grpc',
    'timeout',
    'initial_metadata',
    'retry_policy',
  ]);
  for (const name of ['timeout', 'initial_metadata', 'retry_policy']) {
    const x = gf.get(name);
    if (x !== undefined)
      r.warnings.push({ path: x[1], message: `${name} is not supported by meshlet and is ignored` });
  }
  const google = gf.get('google_grpc');
  if (google !== undefined) {
    r.warnings.push({
      path: google[1],
      message:
        'google_grpc is not supported by meshlet: use envoy_grpc with a cluster name; this filter is not applied',
    });
    return null;
  }
  const e = gf.get('envoy_grpc');
  if (e === undefined) {
    r.errors.push({ path: [...g[1], 'envoy_grpc'], message: 'Required value: envoy_grpc is required' });
    return null;
  }
  const eo = readObject(r, e[0], e[1]);
  if (eo === null) return null;
  const ef = fields(r, eo, e[1], [
    'cluster_name',
    'authority',
    'retry_policy',
    'max_receive_message_length',
    'skip_envoy_headers',
  ]);
  const cn = ef.get('cluster_name');
  const clusterName =
    cn === undefined
      ? required(r, [...e[1], 'cluster_name'], 'cluster_name')
      : readString(r, cn[0], cn[1], true);
  const au = ef.get('authority');
  const authority = au === undefined ? '' : readString(r, au[0], au[1]);
  return { clusterName, authority: authority === '' ? null : authority };
}

function required(r: Reader, path: FieldPath, name: string): string {
  r.errors.push({ path, message: `Required value: ${name} is required` });
  return '';
}

function flag(r: Reader, v: [unknown, FieldPath] | undefined): boolean {
  return v === undefined ? false : readBool(r, v[0], v[1]);
}

export type { Problem };
