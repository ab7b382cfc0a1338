import type { FieldPath } from '../diagnostic.js';
import {
  fields,
  readBool,
  readDuration,
  readEnum,
  readList,
  readObject,
  readString,
  readUint32,
  typedConfigBody,
  type Problem,
  type Reader,
} from './local-rate-limit-read.js';
import { HTTP_STATUS_CODES } from './local-rate-limit-status.js';

/**
 * Envoy's `envoy.filters.http.local_ratelimit` config
 * (envoy api/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto),
 * parsed from an EnvoyFilter patch into a validated, plain, frozen object.
 * Semantics: shared/spec/security.md §5.
 */

export const LOCAL_RATE_LIMIT_FILTER = 'envoy.filters.http.local_ratelimit';
export const LOCAL_RATE_LIMIT_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

/** `type.v3.TokenBucket`, durations in ms. */
export interface TokenBucket {
  readonly maxTokens: number;
  /** `tokens_per_fill`, default 1. */
  readonly tokensPerFill: number;
  /** `fill_interval` in ms, at least 50. */
  readonly fillIntervalMs: number;
}

/** `config.core.v3.HeaderValueOption`, with the deprecated `append` folded into `appendAction`. */
export interface HeaderToAdd {
  readonly key: string;
  readonly value: string;
  readonly appendAction:
    'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';
  readonly keepEmptyValue: boolean;
}

/** `common.ratelimit.v3.LocalRateLimitDescriptor`. */
export interface LocalRateLimitDescriptor {
  readonly entries: readonly { readonly key: string; readonly value: string }[];
  readonly tokenBucket: TokenBucket;
}

/** The validated filter config (or per-route config) meshlet enforces. */
export interface LocalRateLimitConfig {
  readonly statPrefix: string;
  /** Response status when limited: `status.code`, default 429, and anything below 400 becomes 429. */
  readonly status: number;
  /** null: no default bucket, so only descriptors can limit. */
  readonly tokenBucket: TokenBucket | null;
  /** `filter_enabled.default_value` as a probability 0..1; unset = 0 (Envoy: disabled). */
  readonly filterEnabled: number;
  /** `filter_enforced.default_value` as a probability 0..1; unset = 0. */
  readonly filterEnforced: number;
  readonly responseHeadersToAdd: readonly HeaderToAdd[];
  readonly requestHeadersToAddWhenNotEnforced: readonly HeaderToAdd[];
  readonly descriptors: readonly LocalRateLimitDescriptor[];
  readonly stage: number;
  readonly enableXRateLimitHeaders: 'OFF' | 'DRAFT_VERSION_03';
  readonly localRateLimitPerDownstreamConnection: boolean;
  /** Default true. */
  readonly alwaysConsumeDefaultTokenBucket: boolean;
  readonly rateLimitedAsResourceExhausted: boolean;
  readonly vhRateLimits: 'OVERRIDE' | 'INCLUDE' | 'IGNORE';
}

export interface LocalRateLimitParse {
  /** null when the config has errors. */
  readonly config: LocalRateLimitConfig | null;
  readonly errors: readonly Problem[];
  readonly warnings: readonly Problem[];
}

/** Where the LocalRateLimit message sits inside a `typed_config` (direct or TypedStruct). */
export function localRateLimitBody(
  typedConfig: unknown,
  path: FieldPath,
): { body: unknown; path: FieldPath } | null {
  return typedConfigBody(typedConfig, path, LOCAL_RATE_LIMIT_TYPE_URL);
}

const KNOWN = [
  'stat_prefix',
  'status',
  'token_bucket',
  'filter_enabled',
  'filter_enforced',
  'request_headers_to_add_when_not_enforced',
  'response_headers_to_add',
  'descriptors',
  'stage',
  'local_rate_limit_per_downstream_connection',
  'local_cluster_rate_limit',
  'enable_x_ratelimit_headers',
  'vh_rate_limits',
  'always_consume_default_token_bucket',
  'rate_limited_as_resource_exhausted',
  'rate_limits',
  'max_dynamic_descriptors',
];
const NOT_ENFORCED = ['local_cluster_rate_limit', 'rate_limits', 'max_dynamic_descriptors'];

/**
 * Parses a `typed_config` (direct `@type: ...LocalRateLimit`, or a `TypedStruct`
 * with `type_url` and `value`) into a {@link LocalRateLimitConfig}.
 * `path` is the path of the typed_config in the document.
 */
export function parseLocalRateLimit(typedConfig: unknown, path: FieldPath): LocalRateLimitParse {
  const r: Reader = { errors: [], warnings: [] };
  const located = localRateLimitBody(typedConfig, path);
  if (located === null) {
    r.errors.push({
      path,
      message: `typed_config must be a ${LOCAL_RATE_LIMIT_TYPE_URL} (directly or in a TypedStruct)`,
    });
    return freezeResult(null, r);
  }
  const obj = readObject(r, located.body, located.path);
  if (obj === null) return freezeResult(null, r);
  const body = { ...obj };
  if (body['@type'] !== undefined) delete body['@type'];
  const f = fields(r, body, located.path, KNOWN);
  const get = (name: string) => f.get(name);

  const sp = get('stat_prefix');
  const statPrefix =
    sp === undefined ? missing(r, [...located.path, 'stat_prefix']) : readString(r, sp[0], sp[1], true);
  const st = get('status');
  const status = st === undefined ? 429 : readStatus(r, st[0], st[1]);
  const tb = get('token_bucket');
  const tokenBucket = tb === undefined ? null : readTokenBucket(r, tb[0], tb[1]);
  const en = get('filter_enabled');
  const ef = get('filter_enforced');
  const rh = get('response_headers_to_add');
  const qh = get('request_headers_to_add_when_not_enforced');
  const ds = get('descriptors');
  const stg = get('stage');
  const stage = stg === undefined ? 0 : readUint32(r, stg[0], stg[1]);
  if (stage > 10)
    r.errors.push({ path: stg?.[1] ?? located.path, message: 'value must be less than or equal to 10' });
  const xr = get('enable_x_ratelimit_headers');
  const vh = get('vh_rate_limits');
  const pc = get('local_rate_limit_per_downstream_connection');
  const ac = get('always_consume_default_token_bucket');
  const re = get('rate_limited_as_resource_exhausted');
  for (const name of NOT_ENFORCED) {
    const v = get(name);
    if (v !== undefined)
      r.warnings.push({ path: v[1], message: `${name} is not supported by meshlet and is ignored` });
  }

  const config: LocalRateLimitConfig = {
    statPrefix,
    status,
    tokenBucket,
    filterEnabled: en === undefined ? 0 : readRuntimeFraction(r, en[0], en[1]),
    filterEnforced: ef === undefined ? 0 : readRuntimeFraction(r, ef[0], ef[1]),
    responseHeadersToAdd: rh === undefined ? [] : readHeaders(r, rh[0], rh[1]),
    requestHeadersToAddWhenNotEnforced: qh === undefined ? [] : readHeaders(r, qh[0], qh[1]),
    descriptors: ds === undefined ? [] : readDescriptors(r, ds[0], ds[1]),
    stage,
    enableXRateLimitHeaders:
      (xr === undefined ? 'OFF' : readEnum(r, xr[0], xr[1], ['OFF', 'DRAFT_VERSION_03'] as const)) ?? 'OFF',
    localRateLimitPerDownstreamConnection: pc === undefined ? false : readBool(r, pc[0], pc[1]),
    alwaysConsumeDefaultTokenBucket: ac === undefined ? true : readBool(r, ac[0], ac[1]),
    rateLimitedAsResourceExhausted: re === undefined ? false : readBool(r, re[0], re[1]),
    vhRateLimits:
      (vh === undefined
        ? 'OVERRIDE'
        : readEnum(r, vh[0], vh[1], ['OVERRIDE', 'INCLUDE', 'IGNORE'] as const)) ?? 'OVERRIDE',
  };
  return freezeResult(r.errors.length === 0 ? deepFreeze(config) : null, r);
}

function freezeResult(config: LocalRateLimitConfig | null, r: Reader): LocalRateLimitParse {
  return Object.freeze({
    config,
    errors: Object.freeze([...r.errors]),
    warnings: Object.freeze([...r.warnings]),
  });
}

function missing(r: Reader, path: FieldPath): string {
  r.errors.push({ path, message: 'Required value: stat_prefix is required' });
  return '';
}

/**
 * `type.v3.HttpStatus` `{ code }`, by number or by Envoy's StatusCode name; null (with the
 * problem recorded) when it names no defined code.
 */
export function readHttpStatus(r: Reader, v: unknown, path: FieldPath): number | null {
  const obj = readObject(r, v, path);
  if (obj === null) return null;
  const c = fields(r, obj, path, ['code']).get('code');
  if (c === undefined) {
    r.errors.push({ path: [...path, 'code'], message: 'Required value: status code is required' });
    return null;
  }
  const code = typeof c[0] === 'string' && /^\d+$/.test(c[0]) ? Number(c[0]) : c[0];
  const n = typeof code === 'number' ? code : typeof code === 'string' ? HTTP_STATUS_CODES[code] : undefined;
  if (n === undefined || !Object.values(HTTP_STATUS_CODES).includes(n)) {
    r.errors.push({
      path: c[1],
      message: `${JSON.stringify(c[0])} is not a defined envoy.type.v3.StatusCode`,
    });
    return null;
  }
  return n;
}

/**
 * A rate limited response's status: a code below 400 becomes 429 (local_ratelimit.cc and
 * ratelimit.h `toErrorCode`: it would not be an error).
 */
export function readStatus(r: Reader, v: unknown, path: FieldPath): number {
  const n = readHttpStatus(r, v, path);
  return n === null || n < 400 ? 429 : n;
}

function readTokenBucket(r: Reader, v: unknown, path: FieldPath): TokenBucket | null {
  const obj = readObject(r, v, path);
  if (obj === null) return null;
  const f = fields(r, obj, path, ['max_tokens', 'tokens_per_fill', 'fill_interval']);
  const mt = f.get('max_tokens');
  const tf = f.get('tokens_per_fill');
  const fi = f.get('fill_interval');
  let maxTokens = 0;
  if (mt === undefined)
    r.errors.push({
      path: [...path, 'max_tokens'],
      message: 'Required value: max_tokens must be greater than 0',
    });
  else {
    maxTokens = readUint32(r, mt[0], mt[1]);
    if (maxTokens === 0) r.errors.push({ path: mt[1], message: 'max_tokens must be greater than 0' });
  }
  let tokensPerFill = 1;
  if (tf !== undefined) {
    tokensPerFill = readUint32(r, tf[0], tf[1]);
    if (tokensPerFill === 0)
      r.errors.push({ path: tf[1], message: 'tokens_per_fill must be greater than 0' });
  }
  let fillIntervalMs = 0;
  if (fi === undefined)
    r.errors.push({ path: [...path, 'fill_interval'], message: 'Required value: fill_interval is required' });
  else {
    fillIntervalMs = readDuration(r, fi[0], fi[1]) ?? 50;
    // Envoy local_ratelimit_impl.cc rejects refills faster than 50ms.
    if (fillIntervalMs < 50)
      r.errors.push({
        path: fi[1],
        message: `local rate limit token bucket fill timer must be >= 50ms, got ${JSON.stringify(fi[0])}`,
      });
  }
  return { maxTokens, tokensPerFill, fillIntervalMs };
}

const DENOMINATORS = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 } as const;

/** `config.core.v3.RuntimeFractionalPercent` -> probability; the runtime key is not consulted. */
function readRuntimeFraction(r: Reader, v: unknown, path: FieldPath): number {
  const obj = readObject(r, v, path);
  if (obj === null) return 0;
  const f = fields(r, obj, path, ['default_value', 'runtime_key']);
  const rk = f.get('runtime_key');
  if (rk !== undefined) readString(r, rk[0], rk[1]);
  const dv = f.get('default_value');
  if (dv === undefined) {
    r.errors.push({ path: [...path, 'default_value'], message: 'Required value: default_value is required' });
    return 0;
  }
  const pct = readObject(r, dv[0], dv[1]);
  if (pct === null) return 0;
  const pf = fields(r, pct, dv[1], ['numerator', 'denominator']);
  const num = pf.get('numerator');
  const den = pf.get('denominator');
  const numerator = num === undefined ? 0 : readUint32(r, num[0], num[1]);
  const name =
    den === undefined
      ? 'HUNDRED'
      : readEnum(r, den[0], den[1], ['HUNDRED', 'TEN_THOUSAND', 'MILLION'] as const);
  // Envoy's ProtobufPercentHelper caps a numerator above the denominator at 100%.
  return name === null ? 0 : Math.min(1, numerator / DENOMINATORS[name]);
}

const APPEND_ACTIONS = [
  'APPEND_IF_EXISTS_OR_ADD',
  'ADD_IF_ABSENT',
  'OVERWRITE_IF_EXISTS_OR_ADD',
  'OVERWRITE_IF_EXISTS',
] as const;

/** `response_headers_to_add` and the like: at most ten `config.core.v3.HeaderValueOption`s. */
export function readHeaders(r: Reader, v: unknown, path: FieldPath): HeaderToAdd[] {
  const out: HeaderToAdd[] = [];
  readList(r, v, path, 10).forEach((item, i) => {
    const p = [...path, i];
    const obj = readObject(r, item, p);
    if (obj === null) return;
    const f = fields(r, obj, p, ['header', 'append', 'append_action', 'keep_empty_value']);
    const h = f.get('header');
    const header = h === undefined ? null : readObject(r, h[0], h[1]);
    if (header === null) {
      if (h === undefined)
        r.errors.push({ path: [...p, 'header'], message: 'Required value: header is required' });
      return;
    }
    const hp = h?.[1] ?? p;
    const hf = fields(r, header, hp, ['key', 'value', 'raw_value']);
    const k = hf.get('key');
    const key = k === undefined ? missingKey(r, [...hp, 'key']) : readString(r, k[0], k[1], true);
    const val = hf.get('value');
    const raw = hf.get('raw_value');
    let value = val === undefined ? '' : readString(r, val[0], val[1]);
    if (raw !== undefined) value = Buffer.from(readString(r, raw[0], raw[1]), 'base64').toString('utf8');
    const ap = f.get('append');
    const aa = f.get('append_action');
    if (ap !== undefined && aa !== undefined) {
      r.errors.push({ path: p, message: "Both append and append_action are set and it's not allowed" });
    }
    let appendAction: HeaderToAdd['appendAction'] = 'APPEND_IF_EXISTS_OR_ADD';
    if (aa !== undefined) appendAction = readEnum(r, aa[0], aa[1], APPEND_ACTIONS) ?? appendAction;
    else if (ap !== undefined && !readBool(r, ap[0], ap[1])) appendAction = 'OVERWRITE_IF_EXISTS_OR_ADD';
    const ke = f.get('keep_empty_value');
    out.push({
      key: key.toLowerCase(),
      value,
      appendAction,
      keepEmptyValue: ke === undefined ? false : readBool(r, ke[0], ke[1]),
    });
  });
  return out;
}

function missingKey(r: Reader, path: FieldPath): string {
  r.errors.push({ path, message: 'Required value: header key is required' });
  return '';
}

function readDescriptors(r: Reader, v: unknown, path: FieldPath): LocalRateLimitDescriptor[] {
  const out: LocalRateLimitDescriptor[] = [];
  const seen = new Set<string>();
  readList(r, v, path).forEach((item, i) => {
    const p = [...path, i];
    const obj = readObject(r, item, p);
    if (obj === null) return;
    const f = fields(r, obj, p, ['entries', 'token_bucket']);
    const en = f.get('entries');
    const entries: { key: string; value: string }[] = [];
    if (en === undefined)
      r.errors.push({ path: [...p, 'entries'], message: 'entries must contain at least 1 item(s)' });
    else {
      const list = readList(r, en[0], en[1]);
      if (list.length === 0)
        r.errors.push({ path: en[1], message: 'entries must contain at least 1 item(s)' });
      list.forEach((e, j) => {
        const ep = [...en[1], j];
        const eo = readObject(r, e, ep);
        if (eo === null) return;
        const ef = fields(r, eo, ep, ['key', 'value']);
        const k = ef.get('key');
        const val = ef.get('value');
        entries.push({
          key: k === undefined ? missingKey(r, [...ep, 'key']) : readString(r, k[0], k[1], true),
          value: val === undefined ? missingKey(r, [...ep, 'value']) : readString(r, val[0], val[1], true),
        });
      });
    }
    const tb = f.get('token_bucket');
    const bucket = tb === undefined ? null : readTokenBucket(r, tb[0], tb[1]);
    if (tb === undefined)
      r.errors.push({ path: [...p, 'token_bucket'], message: 'Required value: token_bucket is required' });
    // local_ratelimit_impl.cc: "duplicate descriptor in the local rate descriptor".
    const id = JSON.stringify(entries);
    if (seen.has(id))
      r.errors.push({ path: p, message: 'duplicate descriptor in the local rate descriptor' });
    seen.add(id);
    if (bucket !== null) out.push({ entries, tokenBucket: bucket });
  });
  return out;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

export type { Problem } from './local-rate-limit-read.js';
