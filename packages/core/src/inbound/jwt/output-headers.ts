import type { ClaimToHeader } from '../../config/schema/request-authentication.js';
import { nodeJoinedHeader } from './node-header-join.js';

/** One `outputClaimToHeaders` entry, with its claim path split at `.` once. */
export interface ClaimHeader {
  readonly header: string;
  readonly path: readonly string[];
}

export function compileClaimHeaders(list: readonly ClaimToHeader[] | undefined): readonly ClaimHeader[] {
  return Object.freeze(
    (list ?? []).map((c) =>
      Object.freeze({ header: c.header.toLowerCase(), path: Object.freeze(c.claim.split('.')) }),
    ),
  );
}

/** One request header line a verified token adds: lower-case name, value. */
export type OutputLine = readonly [name: string, value: string];

/**
 * The request header lines a verified token adds, in order: `outputPayloadToHeader` carries
 * the payload segment exactly as sent (base64url, unpadded: Istio never sets
 * `pad_forward_payload_header`), then each `outputClaimToHeaders` entry the claim's value
 * (envoy jwt_authn/authenticator.cc `handleGoodJwt` and `addJWTClaimToHeader`). Envoy adds
 * each with `addCopy`, so entries naming the same header give that header several lines;
 * none overwrites another.
 */
export function outputLines(
  payloadHeader: string | null,
  claimHeaders: readonly ClaimHeader[],
  payloadB64: string,
  payload: Readonly<Record<string, unknown>>,
): readonly OutputLine[] {
  const out: OutputLine[] = [];
  if (payloadHeader !== null) out.push([payloadHeader, payloadB64]);
  for (const c of claimHeaders) {
    const value = claimToHeaderValue(lookupClaim(payload, c.path));
    if (value !== null) out.push([c.header, value]);
  }
  return Object.freeze(out);
}

/**
 * The lines grouped by name, in the order names first appear, each group's values in the
 * order they were added.
 */
export function groupLines(
  lines: Iterable<OutputLine>,
  into = new Map<string, string[]>(),
): Map<string, string[]> {
  for (const [name, value] of lines) {
    const values = into.get(name);
    if (values === undefined) into.set(name, [value]);
    else values.push(value);
  }
  return into;
}

/**
 * `{ outputLines }` with every line, by name, when some header has several (the request's
 * result carries them for authorization, which matches each line on its own); else `{}`.
 */
export function repeatedLines(groups: ReadonlyMap<string, readonly string[]>): {
  outputLines?: readonly OutputLine[];
} {
  let repeated = false;
  for (const values of groups.values()) if (values.length > 1) repeated = true;
  if (!repeated) return {};
  const lines: OutputLine[] = [];
  for (const [name, values] of groups) for (const v of values) lines.push([name, v]);
  return { outputLines: Object.freeze(lines) };
}

/**
 * The header values the application reads: a header with several lines as Node's parser
 * presents them to a Fastify or Express handler ({@link nodeJoinedHeader}).
 */
export function headersAsSeen(groups: ReadonlyMap<string, readonly string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, values] of groups) if (values.length > 0) out[name] = nodeJoinedHeader(name, values);
  return out;
}

/** Nested claims by path (`a.b`), as jwt_verify_lib `StructUtils::GetValue` walks them. */
export function lookupClaim(payload: Readonly<Record<string, unknown>>, path: readonly string[]): unknown {
  let cur: unknown = payload;
  for (const part of path) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * Strings, numbers and booleans become header values; empty strings are skipped. Numbers
 * print as Envoy does: a non-negative integer as an integer, anything else through C++
 * `std::to_string(double)` (six decimals: `1.5` → `1.500000`). Lists and objects become
 * the base64 (standard, padded) of their JSON (envoy 1.29.0 changelog, jwt: "serialize
 * non-primitive custom claims ... as JSON and encoded as Base64", envoy PR #30377). A value
 * with control characters is skipped: it could not be a valid header value.
 */
export function claimToHeaderValue(value: unknown): string | null {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'boolean') text = value ? 'true' : 'false';
  else if (typeof value === 'number' && Number.isFinite(value)) {
    text =
      value >= 0 && value < 1.8446744073709552e19 && Number.isInteger(value)
        ? BigInt(value).toString()
        : value.toFixed(6);
  } else if (typeof value === 'object' && value !== null)
    return Buffer.from(claimJson(value), 'utf8').toString('base64');
  else return null;
  if (text === '') return null;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return null;
  }
  return text;
}

/**
 * A list or object claim as protobuf's JSON printer writes the `google.protobuf.Value`
 * jwt_verify_lib parsed it into: compact, object keys in sorted (map) order.
 */
function claimJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/**
 * The claims as Istio's authorization sees them: Envoy's `payload_in_metadata` with
 * `normalize_payload_in_metadata.space_delimited_claims` (Istio always adds `scope` and
 * `permission`; pilot/pkg/security/authn `buildSpaceDelimitedClaims`): a top-level string
 * claim of that name becomes the list of its space-separated parts.
 */
export function normalizeClaims(
  payload: Readonly<Record<string, unknown>>,
  spaceDelimited: readonly string[],
): Readonly<Record<string, unknown>> {
  let out: Record<string, unknown> | null = null;
  for (const name of spaceDelimited) {
    const v = payload[name];
    if (typeof v !== 'string') continue;
    out ??= { ...payload };
    out[name] = Object.freeze(v.split(' ').filter((s) => s !== ''));
  }
  return out === null ? payload : Object.freeze(out);
}
