import { compactVerify, importJWK } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import type { ParsedJwt } from './parse-token.js';
import type { JwtStatus } from './status.js';

/** One usable public key of a JWKS, reduced to its public fields. */
export interface JwksKey {
  readonly kty: 'RSA' | 'EC' | 'oct' | 'OKP';
  /** '' when absent: a key without `kid` is tried for every token (jwt_verify_lib verify.cc). */
  readonly kid: string;
  /** '' when absent: then any algorithm of the key's family may use it. */
  readonly alg: string;
  readonly jwk: Readonly<JWK>;
}

/** A parsed key set; keys are imported into WebCrypto lazily, once per (key, alg). */
export interface KeySet {
  readonly keys: readonly JwksKey[];
  /** Imported keys by `keys` index and alg; a failed import is cached as null. */
  readonly imported: Map<string, Promise<CryptoKey | Uint8Array | null>>;
}

const FAMILY: Readonly<Record<JwksKey['kty'], (alg: string) => boolean>> = {
  RSA: (alg) => alg.startsWith('RS') || alg.startsWith('PS'),
  EC: (alg) => alg.startsWith('ES'),
  oct: (alg) => alg.startsWith('HS'),
  OKP: (alg) => alg === 'EdDSA',
};

const EC_CURVES: Readonly<Record<string, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

/**
 * Parses a JWKS the way jwt_verify_lib's `Jwks::createFrom(..., JWKS)` does: a JSON object
 * with a `keys` array; keys that are malformed or of an unknown type are skipped; no usable
 * key at all is `null` (Envoy then answers `Jwks doesn't have any valid public key`).
 * Private members (`d`, `p`, ...) are dropped: only public keys verify.
 */
export function parseJwks(input: unknown): KeySet | null {
  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch {
      return null;
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return null;
  const list = (doc as { keys?: unknown }).keys;
  if (!Array.isArray(list)) return null;
  const keys: JwksKey[] = [];
  for (const raw of list.slice(0, 1000)) {
    const key = parseKey(raw);
    if (key !== null) keys.push(key);
  }
  if (keys.length === 0) return null;
  return { keys: Object.freeze(keys), imported: new Map() };
}

function parseKey(raw: unknown): JwksKey | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const k = raw as Record<string, unknown>;
  const str = (name: string): string | null | undefined =>
    k[name] === undefined ? undefined : typeof k[name] === 'string' ? k[name] : null;
  const kid = str('kid');
  const alg = str('alg');
  if (kid === null || alg === null) return null;
  const base = { kid: kid ?? '', alg: alg ?? '' };
  switch (k['kty']) {
    case 'RSA': {
      const n = str('n');
      const e = str('e');
      if (typeof n !== 'string' || typeof e !== 'string') return null;
      if (base.alg !== '' && !FAMILY.RSA(base.alg)) return null;
      return freezeKey({ kty: 'RSA', ...base, jwk: { kty: 'RSA', n, e } });
    }
    case 'EC': {
      const x = str('x');
      const y = str('y');
      const crv = str('crv') ?? (base.alg === '' ? 'P-256' : EC_CURVES[base.alg]);
      if (typeof x !== 'string' || typeof y !== 'string' || typeof crv !== 'string') return null;
      if (!Object.values(EC_CURVES).includes(crv)) return null;
      if (base.alg !== '' && EC_CURVES[base.alg] !== crv) return null;
      return freezeKey({ kty: 'EC', ...base, jwk: { kty: 'EC', crv, x, y } });
    }
    case 'oct': {
      const kk = str('k');
      if (typeof kk !== 'string' || (base.alg !== '' && !FAMILY.oct(base.alg))) return null;
      return freezeKey({ kty: 'oct', ...base, jwk: { kty: 'oct', k: kk } });
    }
    case 'OKP': {
      const x = str('x');
      if (str('crv') !== 'Ed25519' || typeof x !== 'string') return null;
      if (base.alg !== '' && base.alg !== 'EdDSA') return null;
      return freezeKey({ kty: 'OKP', ...base, jwk: { kty: 'OKP', crv: 'Ed25519', x } });
    }
    default:
      return null;
  }
}

function freezeKey(key: JwksKey): JwksKey {
  Object.freeze(key.jwk);
  return Object.freeze(key);
}

/**
 * Verifies the signature with the key set, selecting keys as jwt_verify_lib's
 * `verifyJwtWithoutTimeChecking` does: a key is a candidate unless both kids are set and
 * differ, or the key's `alg` is set and differs. A candidate of another family (an RSA key
 * for an `HS256` token) is never used, so HMAC with a public key cannot verify. No candidate
 * → `JwksKidAlgMismatch`; candidates that all fail → `JwtVerificationFail`.
 */
export async function verifySignature(jwt: ParsedJwt, set: KeySet): Promise<JwtStatus | null> {
  let matched = false;
  for (let i = 0; i < set.keys.length; i++) {
    const key = set.keys[i] as JwksKey;
    if (jwt.kid !== '' && key.kid !== '' && key.kid !== jwt.kid) continue;
    if (key.alg !== '' && key.alg !== jwt.alg) continue;
    matched = true;
    if (!FAMILY[key.kty](jwt.alg)) continue;
    if (key.kty === 'OKP' && jwt.signature.length !== 64) return 'JwtEd25519SignatureWrongLength';
    const cryptoKey = await importOnce(set, i, key, jwt.alg);
    if (cryptoKey === null) continue;
    try {
      await compactVerify(`${jwt.headerB64}.${jwt.payloadB64}.${sigText(jwt)}`, cryptoKey, {
        algorithms: [jwt.alg],
      });
      return null;
    } catch {
      // A wrong key for this token: try the next candidate, as jwt_verify_lib does.
    }
  }
  return matched ? 'JwtVerificationFail' : 'JwksKidAlgMismatch';
}

function sigText(jwt: ParsedJwt): string {
  return Buffer.from(jwt.signature.buffer, jwt.signature.byteOffset, jwt.signature.byteLength).toString(
    'base64url',
  );
}

function importOnce(
  set: KeySet,
  index: number,
  key: JwksKey,
  alg: string,
): Promise<CryptoKey | Uint8Array | null> {
  const id = `${index}\u0000${alg}`;
  let p = set.imported.get(id);
  if (p === undefined) {
    p = importJWK({ ...key.jwk }, alg).then(
      (k) => k,
      () => null,
    );
    set.imported.set(id, p);
  }
  return p;
}
