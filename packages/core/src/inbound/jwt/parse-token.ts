import type { JwtStatus } from './status.js';

/** The algorithms jwt_verify_lib implements (jwt.cc `isImplemented`); anything else, `none` included, is refused. */
export const SUPPORTED_ALGS: ReadonlySet<string> = new Set([
  'ES256',
  'ES384',
  'ES512',
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
]);

/** A structurally valid JWT, as jwt_verify_lib's `Jwt::parseFromString` leaves it. */
export interface ParsedJwt {
  readonly token: string;
  /**
   * Whether the token is only base64url characters and dots (it has no `=` padding), so that
   * Envoy's header extraction would take it whole (extractor.cc `extractJWT`).
   */
  readonly unpadded: boolean;
  /** The signing input is `<header>.<payload>`, the segments exactly as sent. */
  readonly headerB64: string;
  readonly payloadB64: string;
  readonly signature: Uint8Array;
  readonly alg: string;
  /** '' when absent, as in jwt_verify_lib. */
  readonly kid: string;
  /** '' when absent. */
  readonly iss: string;
  /** null when absent or empty. */
  readonly sub: string | null;
  /** Seconds since the epoch; 0 = absent (never checked). */
  readonly exp: number;
  readonly nbf: number;
  readonly audiences: readonly string[];
  /** The payload, deep-frozen. */
  readonly payload: Readonly<Record<string, unknown>>;
}

export type ParseResult =
  { readonly ok: true; readonly jwt: ParsedJwt } | { readonly ok: false; readonly status: JwtStatus };

const fail = (status: JwtStatus): ParseResult => ({ ok: false, status });

/**
 * Parses a compact JWS the way jwt_verify_lib does (jwt.cc `parseFromString`), returning the
 * same status for the same defect: exactly two dots and three non-empty sections, a JSON
 * object header with a supported string `alg`, a JSON object payload whose registered claims
 * have the right types, and a base64url signature.
 */
export function parseToken(token: string): ParseResult {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (second < 0 || token.indexOf('.', second + 1) >= 0) return fail('JwtBadFormat');
  const headerB64 = token.slice(0, first);
  const payloadB64 = token.slice(first + 1, second);
  const signatureB64 = token.slice(second + 1);
  // absl::StrSplit(..., SkipEmpty()) must yield 3 parts: an unsecured `h.p.` token is malformed here.
  if (headerB64 === '' || payloadB64 === '' || signatureB64 === '') return fail('JwtBadFormat');

  const headerJson = decodeBase64Url(headerB64);
  if (headerJson === null) return fail('JwtHeaderParseErrorBadBase64');
  const header = parseObject(headerJson);
  if (header === null) return fail('JwtHeaderParseErrorBadJson');
  const alg = header['alg'];
  if (typeof alg !== 'string') return fail('JwtHeaderBadAlg');
  if (!SUPPORTED_ALGS.has(alg)) return fail('JwtHeaderNotImplementedAlg');
  const kid = header['kid'];
  if (kid !== undefined && typeof kid !== 'string') return fail('JwtHeaderBadKid');

  const payloadJson = decodeBase64Url(payloadB64);
  if (payloadJson === null) return fail('JwtPayloadParseErrorBadBase64');
  const payload = parseObject(payloadJson);
  if (payload === null) return fail('JwtPayloadParseErrorBadJson');
  const iss = payload['iss'];
  if (iss !== undefined && typeof iss !== 'string') return fail('JwtPayloadParseErrorIssNotString');
  const sub = payload['sub'];
  if (sub !== undefined && typeof sub !== 'string') return fail('JwtPayloadParseErrorSubNotString');
  const iat = int64(payload['iat']);
  if (iat === 'type') return fail('JwtPayloadParseErrorIatNotInteger');
  if (iat === 'range') return fail('JwtPayloadParseErrorIatOutOfRange');
  const nbf = int64(payload['nbf']);
  if (nbf === 'type') return fail('JwtPayloadParseErrorNbfNotInteger');
  if (nbf === 'range') return fail('JwtPayloadParseErrorNbfOutOfRange');
  const exp = int64(payload['exp']);
  if (exp === 'type') return fail('JwtPayloadParseErrorExpNotInteger');
  if (exp === 'range') return fail('JwtPayloadParseErrorExpOutOfRange');
  const jti = payload['jti'];
  if (jti !== undefined && typeof jti !== 'string') return fail('JwtPayloadParseErrorJtiNotString');
  const audiences = stringList(payload['aud']);
  if (audiences === null) return fail('JwtPayloadParseErrorAudNotString');

  const signatureText = decodeBase64UrlBytes(signatureB64);
  if (signatureText === null) return fail('JwtSignatureParseErrorBadBase64');

  return {
    ok: true,
    jwt: Object.freeze({
      token,
      unpadded: !token.includes('='),
      headerB64,
      payloadB64,
      signature: signatureText,
      alg,
      kid: kid ?? '',
      iss: iss ?? '',
      sub: sub === undefined || sub === '' ? null : sub,
      exp,
      nbf,
      audiences: Object.freeze(audiences),
      payload: deepFreeze(payload),
    }),
  };
}

/** jwt_verify_lib `StructUtils::GetInt64`: a number, truncated; negative or past int64 is out of range. */
function int64(value: unknown): number | 'type' | 'range' {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'type';
  if (value < 0 || value >= 9.223372036854776e18) return 'range';
  return Math.trunc(value);
}

/** `aud` is a string or a list of strings (`StructUtils::GetStringList`). */
function stringList(value: unknown): string[] | null {
  if (value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) return null;
  const out: string[] = [];
  for (const v of value) {
    if (typeof v !== 'string') return null;
    out.push(v);
  }
  return out;
}

function parseObject(text: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/**
 * Strict web-safe base64 (absl `WebSafeBase64Unescape`): only the URL alphabet, padding
 * optional but only at the end. `Buffer.from(s, 'base64url')` would silently skip junk.
 */
function decodeBase64UrlBytes(text: string): Uint8Array | null {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */) end--;
  if (text.length - end > 2 || (text.length !== end && text.length % 4 !== 0)) return null;
  if (end % 4 === 1) return null;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const ok = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95;
    if (!ok) return null;
  }
  return Buffer.from(text.slice(0, end), 'base64url');
}

function decodeBase64Url(text: string): string | null {
  const bytes = decodeBase64UrlBytes(text);
  return bytes === null
    ? null
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
