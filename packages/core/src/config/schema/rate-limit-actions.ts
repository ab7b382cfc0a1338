import type { FieldPath } from '../diagnostic.js';
import { RE2JS } from 're2js';
import {
  fields,
  readBool,
  readList,
  readObject,
  readString,
  readUint32,
  type Problem,
  type Reader,
} from './local-rate-limit-read.js';

/**
 * A route's or virtual host's `rate_limits` (envoy api/envoy/config/route/v3/route_components.proto
 * `RateLimit`): the actions that build the descriptors a rate limit filter sends to its
 * service (or matches against its local descriptors). Parsed into plain frozen objects.
 */

/** `config.route.v3.HeaderMatcher`, as far as a `header_value_match` action uses it. */
export interface HeaderMatch {
  readonly name: string;
  readonly match:
    | { readonly kind: 'present'; readonly present: boolean }
    | {
        readonly kind: 'exact' | 'prefix' | 'suffix' | 'contains';
        readonly value: string;
        readonly ignoreCase: boolean;
      }
    | {
        readonly kind: 'regex';
        /** The RE2 pattern as written. */
        readonly pattern: string;
        /**
         * Whether the whole value matches. A function, not the compiled RE2JS object: a plan is
         * deep-frozen, and a compiled regex holds typed arrays that cannot be.
         */
        readonly matches: (value: string) => boolean;
      };
  readonly invert: boolean;
  /** `treat_missing_header_as_empty`: a missing header is matched as "". */
  readonly missingAsEmpty: boolean;
}

/** One `RateLimit.Action`. */
export type RateLimitAction =
  | { readonly kind: 'source_cluster' }
  | { readonly kind: 'destination_cluster' }
  | {
      readonly kind: 'request_headers';
      readonly headerName: string;
      readonly descriptorKey: string;
      readonly skipIfAbsent: boolean;
    }
  | { readonly kind: 'remote_address' }
  | { readonly kind: 'masked_remote_address'; readonly v4: number; readonly v6: number }
  | { readonly kind: 'generic_key'; readonly descriptorKey: string; readonly descriptorValue: string }
  | {
      readonly kind: 'header_value_match';
      readonly descriptorKey: string;
      readonly descriptorValue: string;
      readonly expectMatch: boolean;
      readonly headers: readonly HeaderMatch[];
    }
  | {
      readonly kind: 'query_parameters';
      readonly name: string;
      readonly descriptorKey: string;
      readonly skipIfAbsent: boolean;
    };

/** One `RateLimit`: a descriptor built from its actions, for the filters of its stage. */
export interface RateLimitEntry {
  readonly stage: number;
  readonly disableKey: string;
  readonly actions: readonly RateLimitAction[];
}

const ENTRY_FIELDS = ['stage', 'disable_key', 'actions', 'limit', 'hits_addend', 'apply_on_stream_done'];
const ACTIONS = [
  'source_cluster',
  'destination_cluster',
  'request_headers',
  'remote_address',
  'generic_key',
  'header_value_match',
  'dynamic_metadata',
  'metadata',
  'extension',
  'masked_remote_address',
  'query_parameter_value_match',
  'query_parameters',
];
/** Actions that read what meshlet has no equivalent of: Envoy metadata, extensions. */
const UNSUPPORTED_ACTIONS: Readonly<Record<string, string>> = {
  dynamic_metadata: 'meshlet keeps no Envoy dynamic metadata a rate limit action could read',
  metadata: 'meshlet keeps no Envoy dynamic or route metadata a rate limit action could read',
  extension: 'meshlet runs no Envoy descriptor extensions',
  query_parameter_value_match: 'meshlet does not evaluate query parameter matchers',
};

/**
 * Parses `rate_limits`. An entry with an action meshlet cannot evaluate is warned and left
 * out whole: Envoy would send a descriptor meshlet cannot build, and a partial one would be
 * counted against another limit.
 */
export function readRateLimits(r: Reader, v: unknown, path: FieldPath): RateLimitEntry[] {
  const out: RateLimitEntry[] = [];
  readList(r, v, path).forEach((item, i) => {
    const p: FieldPath = [...path, i];
    const obj = readObject(r, item, p);
    if (obj === null) return;
    const f = fields(r, obj, p, ENTRY_FIELDS);
    const st = f.get('stage');
    const stage = st === undefined ? 0 : readUint32(r, st[0], st[1]);
    // route_components.proto: `stage` lte 10.
    if (stage > 10) r.errors.push({ path: st?.[1] ?? p, message: 'value must be less than or equal to 10' });
    const dk = f.get('disable_key');
    for (const name of ['limit', 'hits_addend', 'apply_on_stream_done']) {
      const x = f.get(name);
      if (x !== undefined)
        r.warnings.push({ path: x[1], message: `${name} is not supported by meshlet and is ignored` });
    }
    const a = f.get('actions');
    if (a === undefined) {
      r.errors.push({ path: [...p, 'actions'], message: 'value must contain at least 1 item(s)' });
      return;
    }
    const list = readList(r, a[0], a[1]);
    if (list.length === 0) r.errors.push({ path: a[1], message: 'value must contain at least 1 item(s)' });
    const actions: RateLimitAction[] = [];
    let usable = true;
    list.forEach((x, j) => {
      const action = readAction(r, x, [...a[1], j]);
      if (action === null) usable = false;
      else actions.push(action);
    });
    if (usable && actions.length > 0)
      out.push({ stage, disableKey: dk === undefined ? '' : readString(r, dk[0], dk[1]), actions });
  });
  return out;
}

function readAction(r: Reader, v: unknown, path: FieldPath): RateLimitAction | null {
  const obj = readObject(r, v, path);
  if (obj === null) return null;
  const f = fields(r, obj, path, ACTIONS);
  if (f.size !== 1) {
    r.errors.push({ path, message: 'exactly one rate limit action must be set' });
    return null;
  }
  const [[name, [value, p]]] = [...f.entries()] as [[string, [unknown, FieldPath]]];
  const unsupported = UNSUPPORTED_ACTIONS[name];
  if (unsupported !== undefined) {
    r.warnings.push({
      path: p,
      message: `the ${name} action is not supported by meshlet (${unsupported}); this rate limit entry is ignored`,
    });
    return null;
  }
  const o = readObject(r, value, p);
  if (o === null) return null;
  switch (name) {
    case 'source_cluster':
    case 'destination_cluster':
    case 'remote_address':
      fields(r, o, p, []);
      return { kind: name };
    case 'masked_remote_address': {
      const g = fields(r, o, p, ['v4_prefix_mask_len', 'v6_prefix_mask_len']);
      const v4 = uintValue(r, g.get('v4_prefix_mask_len'), 32, 32);
      const v6 = uintValue(r, g.get('v6_prefix_mask_len'), 128, 128);
      return { kind: name, v4, v6 };
    }
    case 'request_headers': {
      const g = fields(r, o, p, ['header_name', 'descriptor_key', 'skip_if_absent']);
      return {
        kind: name,
        headerName: requiredString(r, g.get('header_name'), [...p, 'header_name']).toLowerCase(),
        descriptorKey: requiredString(r, g.get('descriptor_key'), [...p, 'descriptor_key']),
        skipIfAbsent: boolValue(r, g.get('skip_if_absent'), false),
      };
    }
    case 'query_parameters': {
      const g = fields(r, o, p, ['query_parameter_name', 'descriptor_key', 'skip_if_absent']);
      return {
        kind: name,
        name: requiredString(r, g.get('query_parameter_name'), [...p, 'query_parameter_name']),
        descriptorKey: requiredString(r, g.get('descriptor_key'), [...p, 'descriptor_key']),
        skipIfAbsent: boolValue(r, g.get('skip_if_absent'), false),
      };
    }
    case 'generic_key': {
      const g = fields(r, o, p, ['descriptor_value', 'descriptor_key', 'default_value']);
      const key = g.get('descriptor_key');
      return {
        kind: name,
        descriptorValue: requiredString(r, g.get('descriptor_value'), [...p, 'descriptor_value']),
        // router_ratelimit.cc GenericKeyAction: the key defaults to "generic_key".
        descriptorKey: key === undefined || key[0] === '' ? 'generic_key' : readString(r, key[0], key[1]),
      };
    }
    case 'header_value_match': {
      const g = fields(r, o, p, ['descriptor_key', 'descriptor_value', 'expect_match', 'headers']);
      const key = g.get('descriptor_key');
      const h = g.get('headers');
      const headers: HeaderMatch[] = [];
      if (h === undefined)
        r.errors.push({ path: [...p, 'headers'], message: 'value must contain at least 1 item(s)' });
      else
        readList(r, h[0], h[1]).forEach((m, k) => {
          const hm = readHeaderMatch(r, m, [...h[1], k]);
          if (hm !== null) headers.push(hm);
        });
      const em = g.get('expect_match');
      return {
        kind: name,
        // router_ratelimit.cc HeaderValueMatchAction: the key defaults to "header_match".
        descriptorKey: key === undefined || key[0] === '' ? 'header_match' : readString(r, key[0], key[1]),
        descriptorValue: requiredString(r, g.get('descriptor_value'), [...p, 'descriptor_value']),
        // A BoolValue wrapper; protojson takes the bare boolean. Default true.
        expectMatch: em === undefined ? true : readBool(r, em[0], em[1]),
        headers,
      };
    }
    default:
      return null;
  }
}

const MATCHERS = [
  'name',
  'exact_match',
  'safe_regex_match',
  'range_match',
  'present_match',
  'prefix_match',
  'suffix_match',
  'contains_match',
  'string_match',
  'invert_match',
  'treat_missing_header_as_empty',
];

function readHeaderMatch(r: Reader, v: unknown, path: FieldPath): HeaderMatch | null {
  const obj = readObject(r, v, path);
  if (obj === null) return null;
  const f = fields(r, obj, path, MATCHERS);
  const name = requiredString(r, f.get('name'), [...path, 'name']).toLowerCase();
  const invert = boolValue(r, f.get('invert_match'), false);
  const missingAsEmpty = boolValue(r, f.get('treat_missing_header_as_empty'), false);
  const kinds = MATCHERS.slice(1, 9).filter((k) => f.has(k));
  if (kinds.length > 1) {
    r.errors.push({ path, message: 'only one header match specifier may be set' });
    return null;
  }
  const kind = kinds[0];
  const entry = kind === undefined ? undefined : f.get(kind);
  // header.proto: no specifier matches a present header.
  if (kind === undefined || entry === undefined)
    return { name, match: { kind: 'present', present: true }, invert, missingAsEmpty };
  const [value, p] = entry;
  switch (kind) {
    case 'present_match':
      return { name, match: { kind: 'present', present: readBool(r, value, p) }, invert, missingAsEmpty };
    case 'exact_match': {
      const v = readString(r, value, p);
      // header_utility.cc HeaderMatchType::Value: an empty legacy exact_match matches any value.
      if (v === '') return { name, match: { kind: 'present', present: true }, invert, missingAsEmpty };
      return { name, match: { kind: 'exact', value: v, ignoreCase: false }, invert, missingAsEmpty };
    }
    case 'prefix_match':
    case 'suffix_match':
    case 'contains_match':
      return {
        name,
        match: { kind: kind.slice(0, -6) as 'exact', value: readString(r, value, p), ignoreCase: false },
        invert,
        missingAsEmpty,
      };
    case 'safe_regex_match': {
      const regex = readRegex(r, value, p);
      return regex === null ? null : { name, match: regex, invert, missingAsEmpty };
    }
    case 'string_match': {
      const m = readStringMatch(r, value, p);
      return m === null ? null : { name, match: m, invert, missingAsEmpty };
    }
    default:
      r.warnings.push({
        path: p,
        message: `${kind} is not supported by meshlet; this header matcher never matches`,
      });
      return { name, match: { kind: 'present', present: false }, invert: false, missingAsEmpty: false };
  }
}

function readStringMatch(r: Reader, v: unknown, path: FieldPath): HeaderMatch['match'] | null {
  const obj = readObject(r, v, path);
  if (obj === null) return null;
  const f = fields(r, obj, path, ['exact', 'prefix', 'suffix', 'contains', 'safe_regex', 'ignore_case']);
  const ignoreCase = boolValue(r, f.get('ignore_case'), false);
  const kinds = (['exact', 'prefix', 'suffix', 'contains', 'safe_regex'] as const).filter((k) => f.has(k));
  if (kinds.length !== 1) {
    r.errors.push({
      path,
      message: 'exactly one of exact, prefix, suffix, contains, safe_regex must be set',
    });
    return null;
  }
  const kind = kinds[0] as (typeof kinds)[number];
  const [value, p] = f.get(kind) as [unknown, FieldPath];
  if (kind === 'safe_regex') {
    return readRegex(r, value, p);
  }
  const s = readString(r, value, p);
  return { kind, value: ignoreCase ? s.toLowerCase() : s, ignoreCase };
}

/** `type.matcher.v3.RegexMatcher` `{ regex }` (RE2; the engine field is deprecated and ignored). */
function readRegex(
  r: Reader,
  v: unknown,
  path: FieldPath,
): Extract<HeaderMatch['match'], { kind: 'regex' }> | null {
  const obj = readObject(r, v, path);
  if (obj === null) return null;
  const f = fields(r, obj, path, ['regex', 'google_re2']);
  const source = requiredString(r, f.get('regex'), [...path, 'regex']);
  try {
    const re = RE2JS.compile(source);
    return { kind: 'regex', pattern: source, matches: (value) => re.matches(value) };
  } catch (err) {
    r.errors.push({
      path: [...path, 'regex'],
      message: `invalid regex: ${err instanceof Error ? err.message : String(err)}`,
    });
    return null;
  }
}

function requiredString(r: Reader, v: [unknown, FieldPath] | undefined, path: FieldPath): string {
  if (v === undefined) {
    r.errors.push({ path, message: 'value length must be at least 1 characters' });
    return '';
  }
  return readString(r, v[0], v[1], true);
}

function boolValue(r: Reader, v: [unknown, FieldPath] | undefined, fallback: boolean): boolean {
  return v === undefined ? fallback : readBool(r, v[0], v[1]);
}

function uintValue(r: Reader, v: [unknown, FieldPath] | undefined, fallback: number, max: number): number {
  if (v === undefined) return fallback;
  const n = readUint32(r, v[0], v[1]);
  if (n > max) r.errors.push({ path: v[1], message: `value must be less than or equal to ${max}` });
  return n;
}

export type { Problem };
