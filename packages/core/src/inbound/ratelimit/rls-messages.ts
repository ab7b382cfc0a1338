import { int32Of, ProtoDecodeError, ProtoWriter, readFields, type ProtoField } from '../authz/proto-wire.js';

/**
 * The two messages of `envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit`, with
 * Envoy's field numbers (api/envoy/service/ratelimit/v3/rls.proto;
 * api/envoy/extensions/common/ratelimit/v3/ratelimit.proto for RateLimitDescriptor;
 * api/envoy/config/core/v3/base.proto for HeaderValue). Only what Envoy's HTTP rate limit
 * filter sends and reads is written and read.
 */

export interface RateLimitRequestFields {
  readonly domain: string;
  readonly descriptors: readonly {
    readonly entries: readonly { readonly key: string; readonly value: string }[];
  }[];
  /** Left out when 0 or undefined; the server then counts 1 per request. */
  readonly hitsAddend?: number;
}

/** RateLimitResponse.Code. */
export type RlsCode = 'UNKNOWN' | 'OK' | 'OVER_LIMIT';

/**
 * RateLimitResponse.RateLimit.Unit. WEEK is number 7, after YEAR (6), though declared
 * between DAY and MONTH (envoy #37494).
 */
export type RlsUnit = 'UNKNOWN' | 'SECOND' | 'MINUTE' | 'HOUR' | 'DAY' | 'WEEK' | 'MONTH' | 'YEAR';

export interface RlsDescriptorStatus {
  readonly code: RlsCode;
  readonly currentLimit: {
    readonly name: string;
    readonly requestsPerUnit: number;
    readonly unit: RlsUnit;
  } | null;
  readonly limitRemaining: number;
  readonly durationUntilResetMs: number | null;
}

export interface RlsHeader {
  readonly key: string;
  readonly value: string;
}

export interface RateLimitResponse {
  readonly overallCode: RlsCode;
  readonly statuses: RlsDescriptorStatus[];
  readonly responseHeadersToAdd: RlsHeader[];
  readonly requestHeadersToAdd: RlsHeader[];
  /** null when the server sent none (proto3 cannot tell an empty body from none). */
  readonly rawBody: Buffer | null;
}

const MAX_UINT32 = 0xffff_ffff;

/**
 * RateLimitRequest{domain(1), descriptors(2): RateLimitDescriptor{entries(1):
 * Entry{key(1), value(2)}}, hits_addend(3): uint32}. Throws RangeError for a hits_addend
 * that is not a uint32.
 */
export function encodeRateLimitRequest(r: RateLimitRequestFields): Buffer {
  const hits = r.hitsAddend ?? 0;
  if (!Number.isInteger(hits) || hits < 0 || hits > MAX_UINT32)
    throw new RangeError(`hits_addend ${hits} is not a uint32`);
  const w = new ProtoWriter().string(1, r.domain);
  for (const d of r.descriptors) {
    const descriptor = new ProtoWriter();
    for (const e of d.entries) descriptor.message(1, new ProtoWriter().string(1, e.key).string(2, e.value));
    w.message(2, descriptor);
  }
  return w.int(3, hits).finish();
}

const CODES: readonly RlsCode[] = ['UNKNOWN', 'OK', 'OVER_LIMIT'];
const UNITS: readonly RlsUnit[] = ['UNKNOWN', 'SECOND', 'MINUTE', 'HOUR', 'DAY', 'MONTH', 'YEAR', 'WEEK'];

function str(f: ProtoField): string {
  if (f.wire !== 'len') throw new ProtoDecodeError(`field ${f.field}: expected a string`);
  return f.value.toString('utf8');
}

function msg(f: ProtoField): ProtoField[] {
  if (f.wire !== 'len') throw new ProtoDecodeError(`field ${f.field}: expected a message`);
  return readFields(f.value);
}

function varint(f: ProtoField): bigint {
  if (f.wire !== 'varint') throw new ProtoDecodeError(`field ${f.field}: expected a number`);
  return f.value;
}

const uint32 = (f: ProtoField): number => Number(BigInt.asUintN(32, varint(f)));

/** An enum number outside the list (a newer server's value) reads as UNKNOWN, as proto3 keeps it unrecognised. */
const enumOf = <T>(names: readonly T[], f: ProtoField, unknown: T): T => names[int32Of(varint(f))] ?? unknown;

/** RateLimit{requests_per_unit(1): uint32, unit(2): Unit, name(3)}. */
function rateLimit(fields: ProtoField[]): NonNullable<RlsDescriptorStatus['currentLimit']> {
  let name = '';
  let requestsPerUnit = 0;
  let unit: RlsUnit = 'UNKNOWN';
  for (const f of fields) {
    if (f.field === 1) requestsPerUnit = uint32(f);
    else if (f.field === 2) unit = enumOf(UNITS, f, 'UNKNOWN');
    else if (f.field === 3) name = str(f);
  }
  return { name, requestsPerUnit, unit };
}

/** google.protobuf.Duration{seconds(1): int64, nanos(2): int32}, in ms. */
function durationMs(fields: ProtoField[]): number {
  let seconds = 0;
  let nanos = 0;
  for (const f of fields) {
    if (f.field === 1) seconds = Number(BigInt.asIntN(64, varint(f)));
    else if (f.field === 2) nanos = int32Of(varint(f));
  }
  return seconds * 1000 + nanos / 1e6;
}

/**
 * DescriptorStatus{code(1), current_limit(2): RateLimit, limit_remaining(3): uint32,
 * duration_until_reset(4): Duration}; quota(5) is skipped.
 */
function descriptorStatus(fields: ProtoField[]): RlsDescriptorStatus {
  let code: RlsCode = 'UNKNOWN';
  let currentLimit: RlsDescriptorStatus['currentLimit'] = null;
  let limitRemaining = 0;
  let durationUntilResetMs: number | null = null;
  for (const f of fields) {
    if (f.field === 1) code = enumOf(CODES, f, 'UNKNOWN');
    else if (f.field === 2) currentLimit = rateLimit(msg(f));
    else if (f.field === 3) limitRemaining = uint32(f);
    else if (f.field === 4) durationUntilResetMs = durationMs(msg(f));
  }
  return { code, currentLimit, limitRemaining, durationUntilResetMs };
}

/**
 * config.core.v3.HeaderValue{key(1), value(2)}. Newer Envoy also has `raw_value(3)`; its
 * rate limit client (filters/common/ratelimit/ratelimit_impl.cc) reads only key and value.
 */
function header(fields: ProtoField[]): RlsHeader {
  let key = '';
  let value = '';
  for (const f of fields) {
    if (f.field === 1) key = str(f);
    else if (f.field === 2) value = str(f);
  }
  return { key, value };
}

/**
 * RateLimitResponse{overall_code(1), statuses(2), response_headers_to_add(3),
 * request_headers_to_add(4), raw_body(5)}; dynamic_metadata(6) and quota(7) are skipped,
 * as are fields this reader does not know. Throws ProtoDecodeError.
 */
export function decodeRateLimitResponse(buf: Buffer): RateLimitResponse {
  let overallCode: RlsCode = 'UNKNOWN';
  const statuses: RlsDescriptorStatus[] = [];
  const responseHeadersToAdd: RlsHeader[] = [];
  const requestHeadersToAdd: RlsHeader[] = [];
  let rawBody: Buffer | null = null;
  for (const f of readFields(buf)) {
    if (f.field === 1) overallCode = enumOf(CODES, f, 'UNKNOWN');
    else if (f.field === 2) statuses.push(descriptorStatus(msg(f)));
    else if (f.field === 3) responseHeadersToAdd.push(header(msg(f)));
    else if (f.field === 4) requestHeadersToAdd.push(header(msg(f)));
    else if (f.field === 5) {
      if (f.wire !== 'len') throw new ProtoDecodeError('field 5: expected bytes');
      rawBody = Buffer.from(f.value);
    }
  }
  return { overallCode, statuses, responseHeadersToAdd, requestHeadersToAdd, rawBody };
}
