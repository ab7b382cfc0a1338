import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import YAML from 'yaml';

/**
 * A real gRPC rate limit service (RLS) for tests: `envoy.service.ratelimit.v3.RateLimitService/
 * ShouldRateLimit` on loopback (@grpc/grpc-js over HTTP/2), decoding with @grpc/proto-loader
 * from a .proto fixture so what meshlet sends is checked by a decoder that is not meshlet's.
 * Unless a test answers by hand, it answers as envoyproxy/ratelimit does with its Redis
 * fixed-window cache: the configuration semantics of src/config/config_impl.go, the cache key
 * of src/limiter/cache_key.go, the statuses of src/limiter/base_limiter.go and the overall code
 * of src/service/ratelimit.go (read at envoyproxy/ratelimit f2fb1577, July 2026).
 */

/** A RateLimitRequest as @grpc/proto-loader decodes it (proto field names, unset messages null). */
export interface DecodedRateLimitRequest {
  readonly domain: string;
  readonly descriptors: readonly DecodedRateLimitDescriptor[];
  readonly hits_addend: number;
}

export interface DecodedRateLimitDescriptor {
  readonly entries: readonly { readonly key: string; readonly value: string }[];
  /** The `limit` override (envoy.type.v3.RateLimitUnit names). */
  readonly limit: { readonly requests_per_unit: number; readonly unit: string } | null;
  /** Per-descriptor hits_addend (google.protobuf.UInt64Value), newer Envoy. */
  readonly hits_addend: { readonly value: number } | null;
}

export type RlsCodeName = 'UNKNOWN' | 'OK' | 'OVER_LIMIT';
export type RlsUnitName = 'UNKNOWN' | 'SECOND' | 'MINUTE' | 'HOUR' | 'DAY' | 'WEEK' | 'MONTH' | 'YEAR';

/** A DescriptorStatus in proto-loader's object form; a number sends an enum value the proto does not name. */
export interface DescriptorStatusObject {
  code?: RlsCodeName | number;
  current_limit?: { name?: string; requests_per_unit?: number; unit?: RlsUnitName | number } | null;
  limit_remaining?: number;
  duration_until_reset?: { seconds: number; nanos?: number } | null;
  quota?: RlsQuotaObject;
}

/** RateLimitResponse.Quota (not implemented by Envoy; here so a test can send it). */
export interface RlsQuotaObject {
  requests: number;
  valid_until?: { seconds: number; nanos?: number };
  id?: string;
}

/** A RateLimitResponse in proto-loader's object form. */
export interface RateLimitResponseObject {
  overall_code?: RlsCodeName | number;
  statuses?: DescriptorStatusObject[];
  response_headers_to_add?: { key: string; value: string }[];
  request_headers_to_add?: { key: string; value: string }[];
  raw_body?: Buffer;
  dynamic_metadata?: { fields: Record<string, { string_value?: string; number_value?: number }> };
  quota?: RlsQuotaObject;
}

/** A gRPC error in place of a response; `details` is the status message. */
export interface RlsGrpcError {
  readonly grpcError: grpc.status;
  readonly details?: string;
}

/**
 * What the server does with one call: answer, fail with a gRPC status, or never answer.
 * `fromConfig` computes (and counts) the answer the configuration gives, for a handler that
 * only decorates it or answers by hand on some calls only.
 */
export type RateLimitHandler = (
  req: DecodedRateLimitRequest,
  fromConfig: () => RateLimitResponseObject | RlsGrpcError,
) => RateLimitResponseObject | RlsGrpcError | 'hang';

/** One descriptor of an envoyproxy/ratelimit configuration file (README "The configuration format"). */
export interface RateLimitDescriptorConfig {
  readonly key: string;
  readonly value?: string;
  readonly rate_limit?: {
    /** second, minute, hour, day, week, month or year, any case; none when unlimited. */
    readonly unit?: string;
    readonly requests_per_unit?: number;
    readonly unlimited?: boolean;
    readonly name?: string;
    readonly replaces?: readonly { readonly name: string }[];
  };
  readonly shadow_mode?: boolean;
  readonly quota_mode?: boolean;
  /** Wildcard values only: every value the wildcard matches shares one counter. */
  readonly share_threshold?: boolean;
  /** Accepted and ignored: they only change stats names or dynamic metadata. */
  readonly detailed_metric?: boolean;
  readonly value_to_metric?: boolean;
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly descriptors?: readonly RateLimitDescriptorConfig[];
}

/** One envoyproxy/ratelimit configuration file. */
export interface RateLimitConfig {
  readonly domain: string;
  readonly descriptors?: readonly RateLimitDescriptorConfig[];
}

/** YAML text (one file per `---` document) or objects; several for several domains. */
export type RateLimitConfigInput = string | RateLimitConfig | readonly (string | RateLimitConfig)[];

export interface RateLimitServerOptions {
  readonly handler?: RateLimitHandler;
  readonly config?: RateLimitConfigInput;
  /** The clock, in ms since the epoch; the window and the reset use whole seconds of it. */
  readonly now?: () => number;
  /** The service's SHADOW_MODE setting: an overall OVER_LIMIT is answered OK. */
  readonly globalShadowMode?: boolean;
  readonly credentials?: grpc.ServerCredentials;
}

export interface RateLimitGrpcServer {
  readonly port: number;
  readonly seen: DecodedRateLimitRequest[];
  /** The `:authority` of each call. */
  readonly authorities: string[];
  /** The fixed-window counters by cache key (`<domain>_<key>_<value>_..._<window start s>`). */
  readonly counters: ReadonlyMap<string, number>;
  /** Replaces the configuration, as a reload does; the counters stay (they live in Redis). Throws on an invalid one. */
  setConfig(config: RateLimitConfigInput): void;
  close(): Promise<void>;
}

const PROTO = path.resolve(import.meta.dirname, '../fixtures/ratelimit/rls.proto');

type ShouldRateLimitMethod = grpc.MethodDefinition<DecodedRateLimitRequest, RateLimitResponseObject>;

/** The fixture's ShouldRateLimit method: its path and proto-loader's (de)serializers, both ways. */
export function loadRlsService(): {
  readonly service: grpc.ServiceDefinition;
  readonly method: ShouldRateLimitMethod;
} {
  const definition = protoLoader.loadSync(PROTO, {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    envoy: { service: { ratelimit: { v3: { RateLimitService: { service: grpc.ServiceDefinition } } } } };
  };
  const service = pkg.envoy.service.ratelimit.v3.RateLimitService.service;
  return { service, method: service['ShouldRateLimit'] as ShouldRateLimitMethod };
}

// ---- configuration (src/config/config_impl.go) ----

const UNIT_SECONDS: Readonly<Record<string, number>> = {
  SECOND: 1,
  MINUTE: 60,
  HOUR: 3600,
  DAY: 86_400,
  WEEK: 7 * 86_400,
  MONTH: 30 * 86_400,
  YEAR: 365 * 86_400,
};

interface Limit {
  readonly requestsPerUnit: number;
  readonly unit: RlsUnitName;
  readonly unlimited: boolean;
  readonly shadowMode: boolean;
  readonly quotaMode: boolean;
  readonly name: string;
  readonly replaces: readonly string[];
}

interface ConfigNode {
  /** By `key` or `key_value`, as config_impl.go keys its map. */
  readonly children: Map<string, ConfigNode>;
  /** The children whose value holds `*`, in file order: the first that matches wins. */
  readonly wildcards: { readonly key: string; readonly parts: readonly string[] }[];
  readonly limit: Limit | null;
  /** `share_threshold`: the `key_value*` pattern the counter is keyed on. */
  readonly sharedPattern: string | null;
}

const VALID_KEYS = new Set([
  'domain',
  'key',
  'value',
  'descriptors',
  'rate_limit',
  'unit',
  'requests_per_unit',
  'unlimited',
  'shadow_mode',
  'quota_mode',
  'name',
  'replaces',
  'detailed_metric',
  'value_to_metric',
  'share_threshold',
  'metadata',
]);

class RateLimitConfigError extends Error {}

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);

/** validateYamlKeys: every key anywhere must be a known one; lists hold maps only. */
function validateKeys(m: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(m)) {
    if (!VALID_KEYS.has(k)) throw new RateLimitConfigError(`config error, unknown key '${k}'`);
    if (k === 'metadata') continue;
    if (Array.isArray(v))
      for (const e of v as unknown[]) {
        if (!isMap(e)) throw new RateLimitConfigError('config error, list of type other than map');
        validateKeys(e);
      }
    else if (isMap(v)) validateKeys(v);
    else if (v !== null && v !== undefined && !['string', 'number', 'boolean'].includes(typeof v))
      throw new RateLimitConfigError('error checking config');
  }
}

/** A YAML scalar read into a Go string field (yaml.v2 keeps a number's or bool's text). */
function text(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new RateLimitConfigError(`expected a string, got ${JSON.stringify(v)}`);
}

function bool(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new RateLimitConfigError(`expected a boolean, got ${JSON.stringify(v)}`);
  return v;
}

function list(v: unknown): Record<string, unknown>[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new RateLimitConfigError('descriptors must be a list');
  return (v as unknown[]).filter(isMap);
}

function readLimit(raw: Record<string, unknown>, d: Record<string, unknown>): Limit {
  const unlimited = bool(raw['unlimited']);
  const unitName = text(raw['unit']).toUpperCase();
  const validUnit = unitName in UNIT_SECONDS;
  if (unlimited && validUnit)
    throw new RateLimitConfigError('should not specify rate limit unit when unlimited');
  if (!unlimited && !validUnit)
    throw new RateLimitConfigError(`invalid rate limit unit '${text(raw['unit'])}'`);
  const rpu = raw['requests_per_unit'] ?? 0;
  if (typeof rpu !== 'number' || !Number.isInteger(rpu) || rpu < 0 || rpu > 0xffff_ffff)
    throw new RateLimitConfigError(`requests_per_unit ${JSON.stringify(rpu)} is not a uint32`);
  const name = text(raw['name']);
  const replaces = list(raw['replaces']).map((r) => text(r['name']));
  for (const r of replaces) {
    if (r === '') throw new RateLimitConfigError('should not have an empty replaces entry');
    if (r === name) throw new RateLimitConfigError('replaces should not contain name of same descriptor');
  }
  return {
    requestsPerUnit: rpu,
    unit: validUnit ? (unitName as RlsUnitName) : 'UNKNOWN',
    unlimited,
    shadowMode: bool(d['shadow_mode']),
    quotaMode: bool(d['quota_mode']),
    name,
    replaces,
  };
}

function loadDescriptors(parent: ConfigNode, descriptors: Record<string, unknown>[]): void {
  for (const d of descriptors) {
    const key = text(d['key']);
    if (key === '') throw new RateLimitConfigError('descriptor has empty key');
    const value = text(d['value']);
    const finalKey = value === '' ? key : `${key}_${value}`;
    if (parent.children.has(finalKey))
      throw new RateLimitConfigError(`duplicate descriptor composite key '${finalKey}'`);
    const shared = bool(d['share_threshold']);
    if (shared && !finalKey.includes('*'))
      throw new RateLimitConfigError(
        `share_threshold can only be used with wildcard values, found '${finalKey}'`,
      );
    if (finalKey.includes('*')) parent.wildcards.push({ key: finalKey, parts: finalKey.split('*') });
    const rl = d['rate_limit'];
    const node: ConfigNode = {
      children: new Map(),
      wildcards: [],
      limit: isMap(rl) ? readLimit(rl, d) : null,
      sharedPattern: shared ? finalKey : null,
    };
    loadDescriptors(node, list(d['descriptors']));
    parent.children.set(finalKey, node);
  }
}

function parseConfigs(input: RateLimitConfigInput): Map<string, ConfigNode> {
  const docs: unknown[] = [];
  for (const item of Array.isArray(input) ? (input as readonly (string | RateLimitConfig)[]) : [input]) {
    if (typeof item === 'string')
      for (const doc of YAML.parseAllDocuments(item)) {
        if (doc.errors.length > 0)
          throw new RateLimitConfigError(`error loading config file: ${doc.errors[0]?.message ?? ''}`);
        docs.push(doc.toJS());
      }
    else docs.push(item);
  }
  const domains = new Map<string, ConfigNode>();
  for (const root of docs) {
    if (!isMap(root)) throw new RateLimitConfigError('config file is not a map');
    validateKeys(root);
    const domain = text(root['domain']);
    if (domain === '') throw new RateLimitConfigError('config file cannot have empty domain');
    if (domains.has(domain)) throw new RateLimitConfigError(`duplicate domain '${domain}' in config file`);
    const node: ConfigNode = { children: new Map(), wildcards: [], limit: null, sharedPattern: null };
    loadDescriptors(node, list(root['descriptors']));
    domains.set(domain, node);
  }
  return domains;
}

/**
 * A `*` anywhere in a configured value matches any run of characters, several in order
 * (config_impl.go `wildcardMatch`; older releases only knew a trailing `*`). The pattern is
 * the configured `key_value`, matched against the request's `key_value`.
 */
function wildcardMatch(parts: readonly string[], s: string): boolean {
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (parts.length === 1) return first === s;
  if (!s.startsWith(first) || !s.endsWith(last)) return false;
  if (s.length < parts.reduce((n, p) => n + p.length, 0)) return false;
  let rest = s.slice(first.length, s.length - last.length);
  for (const p of parts.slice(1, -1)) {
    const at = rest.indexOf(p);
    if (at < 0) return false;
    rest = rest.slice(at + p.length);
  }
  return true;
}

interface Found {
  readonly limit: Limit;
  /** By entry index: the wildcard value a `share_threshold` entry is counted under. */
  readonly shared: ReadonlyMap<number, string>;
}

/**
 * config_impl.go `GetLimit`: walk the entries level by level, at each trying `key_value`,
 * then the wildcards, then `key` alone (the default); a limit applies only at the level of
 * the request's last entry (README "Example 4"), so a request deeper or shallower than the
 * configured limit is unlimited. The `limit` override from Envoy is taken as it is.
 */
function getLimit(
  domains: ReadonlyMap<string, ConfigNode>,
  domain: string,
  d: DecodedRateLimitDescriptor,
): Found | null {
  let node = domains.get(domain);
  if (node === undefined) return null;
  if (d.limit !== null)
    return {
      limit: {
        requestsPerUnit: d.limit.requests_per_unit,
        unit: d.limit.unit as RlsUnitName,
        unlimited: false,
        shadowMode: false,
        quotaMode: false,
        name: '',
        replaces: [],
      },
      shared: new Map(),
    };
  let found: Found | null = null;
  const shared = new Map<number, string>();
  for (const [i, entry] of d.entries.entries()) {
    const finalKey = `${entry.key}_${entry.value}`;
    let next: ConfigNode | undefined = node.children.get(finalKey);
    if (next === undefined) {
      const w = node.wildcards.find((c) => wildcardMatch(c.parts, finalKey));
      if (w !== undefined) {
        next = node.children.get(w.key);
        if (next?.sharedPattern != null) shared.set(i, next.sharedPattern.slice(entry.key.length + 1));
      }
    }
    next ??= node.children.get(entry.key);
    if (next?.limit != null && i === d.entries.length - 1) found = { limit: next.limit, shared };
    if (next === undefined || next.children.size === 0) break;
    node = next;
  }
  return found;
}

// ---- the service (src/service/ratelimit.go, src/limiter, src/redis/fixed_cache_impl.go) ----

const MAX_UINT32 = 0xffff_ffff;

class ServiceError extends Error {}

function shouldRateLimit(
  req: DecodedRateLimitRequest,
  domains: ReadonlyMap<string, ConfigNode>,
  counters: Map<string, number>,
  nowMs: number,
  globalShadowMode: boolean,
): RateLimitResponseObject {
  if (req.domain === '') throw new ServiceError('rate limit domain must not be empty');
  if (req.descriptors.length === 0) throw new ServiceError('rate limit descriptor list must not be empty');

  // constructLimitsToCheck: unlimited limits and the limits others replace are not counted.
  const found = req.descriptors.map((d) => getLimit(domains, req.domain, d));
  const replacing = new Set(found.flatMap((f) => f?.limit.replaces ?? []));
  const now = Math.floor(nowMs / 1000);

  let failedRateLimit = 0;
  let failedQuota = 0;
  let totalQuota = 0;
  const statuses = req.descriptors.map((d, i): DescriptorStatusObject => {
    const f = found[i] ?? null;
    if (f?.limit.unlimited === true) return { code: 'OK', limit_remaining: MAX_UINT32 };
    if (f === null || (f.limit.name !== '' && replacing.has(f.limit.name)))
      return { code: 'OK', limit_remaining: 0 };
    const { limit } = f;
    // cache_key.go: `<prefix><domain>_` + `<key>_<value>_` per entry + the window's start in s.
    const divider = UNIT_SECONDS[limit.unit] ?? 1;
    const values = d.entries.map((e, j) => `${e.key}_${f.shared.get(j) ?? e.value}_`);
    const key = `${req.domain}_${values.join('')}${Math.floor(now / divider) * divider}`;
    // utils.GetHitsAddends: the descriptor's own (0 allowed), else the request's, at least 1.
    const hits = d.hits_addend?.value ?? Math.max(1, req.hits_addend);
    const after = (counters.get(key) ?? 0) + hits;
    counters.set(key, after);
    const over = after > limit.requestsPerUnit;
    const status: DescriptorStatusObject = {
      // base_limiter.go: a shadow_mode limit over its limit still answers OK (remaining 0).
      code: over && !limit.shadowMode ? 'OVER_LIMIT' : 'OK',
      current_limit: { name: limit.name, requests_per_unit: limit.requestsPerUnit, unit: limit.unit },
      limit_remaining: over ? 0 : limit.requestsPerUnit - after,
      duration_until_reset: { seconds: divider - (now % divider) },
    };
    if (limit.quotaMode) {
      totalQuota++;
      if (status.code === 'OVER_LIMIT') failedQuota++;
    } else if (status.code === 'OVER_LIMIT') failedRateLimit++;
    return status;
  });
  // OVER_LIMIT iff a rate limit is over, or every quota_mode limit is.
  const over = failedRateLimit > 0 || (totalQuota > 0 && totalQuota === failedQuota);
  return { overall_code: over && !globalShadowMode ? 'OVER_LIMIT' : 'OK', statuses };
}

/**
 * Starts the server on 127.0.0.1, port 0. Without a handler every call is answered from the
 * configuration. As envoyproxy/ratelimit: an unknown domain matches no limit and is OK; an
 * empty domain or descriptor list is a gRPC UNKNOWN error (a Go error that is not a status).
 */
export async function startRateLimitServer(
  options: RateLimitServerOptions = {},
): Promise<RateLimitGrpcServer> {
  const { service } = loadRlsService();
  const now = options.now ?? Date.now;
  let domains = parseConfigs(options.config ?? []);
  const counters = new Map<string, number>();
  const seen: DecodedRateLimitRequest[] = [];
  const authorities: string[] = [];
  const hanging: grpc.sendUnaryData<RateLimitResponseObject>[] = [];

  const fromConfig = (req: DecodedRateLimitRequest): RateLimitResponseObject | RlsGrpcError => {
    try {
      return shouldRateLimit(req, domains, counters, now(), options.globalShadowMode ?? false);
    } catch (err) {
      if (err instanceof ServiceError) return { grpcError: grpc.status.UNKNOWN, details: err.message };
      throw err;
    }
  };

  const server = new grpc.Server();
  server.addService(service, {
    ShouldRateLimit: (
      call: grpc.ServerUnaryCall<DecodedRateLimitRequest, RateLimitResponseObject>,
      callback: grpc.sendUnaryData<RateLimitResponseObject>,
    ) => {
      seen.push(call.request);
      authorities.push(call.getHost());
      const answer =
        options.handler === undefined
          ? fromConfig(call.request)
          : options.handler(call.request, () => fromConfig(call.request));
      if (answer === 'hang') {
        hanging.push(callback);
        return;
      }
      if ('grpcError' in answer) {
        callback({ code: answer.grpcError, details: answer.details ?? 'test server error' });
        return;
      }
      callback(null, answer);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      '127.0.0.1:0',
      options.credentials ?? grpc.ServerCredentials.createInsecure(),
      (err, p) => (err === null ? resolve(p) : reject(err)),
    ),
  );
  return {
    port,
    seen,
    authorities,
    counters,
    setConfig: (config) => {
      domains = parseConfigs(config);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const cb of hanging.splice(0)) cb({ code: grpc.status.UNAVAILABLE, details: 'closing' });
        server.tryShutdown(() => resolve());
      }),
  };
}
