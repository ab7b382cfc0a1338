import { readFileSync } from 'node:fs';
import path from 'node:path';
import { generateKeyPair, exportJWK, SignJWT } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import { compilePlan } from '../../../src/compile/compile-plan.js';
import type { JwtRulePlan } from '../../../src/compile/inbound-types.js';
import { loadConfigText } from '../../../src/config/load.js';
import type { InboundRequest } from '../../../src/inbound/engine-types.js';
import { SAMPLES } from '../../helpers/tmp.js';

export const WORKLOAD = {
  name: 'httpbin-1',
  namespace: 'foo',
  serviceAccount: 'httpbin',
  labels: { app: 'httpbin', version: 'v1' },
};

export function sample(rel: string): string {
  return readFileSync(path.join(SAMPLES, rel), 'utf8');
}

/** The Istio sample token and key set (security/tools/jwt/samples), read in place. */
export const SAMPLE_JWKS = sample('jwt/jwks.json');
export const DEMO_JWT = sample('jwt/demo.jwt').trim();
export const GROUPS_SCOPE_JWT = sample('jwt/groups-scope.jwt').trim();
export const SAMPLE_ISSUER = 'testing@secure.istio.io';

/** The JWT rules compiled for the httpbin workload from RequestAuthentication YAML; fails on any load error. */
export function rulesFrom(yaml: string): readonly JwtRulePlan[] {
  const snap = loadConfigText([{ text: yaml, file: 'ra.yaml' }]);
  const errors = snap.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(errors.map((d) => `${d.path}: ${d.message}`).join('\n'));
  return compilePlan(snap, WORKLOAD).inbound.jwtRules;
}

/** One RequestAuthentication selecting httpbin, with the given `jwtRules` YAML items (each a flow map or block). */
export function requestAuthentication(rules: string, name = 'jwt-example'): string {
  return `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: ${name}, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  jwtRules:
${rules}`;
}

/** A YAML scalar for a JSON text (YAML double-quoted strings take JSON escapes). */
export const yamlString = (text: string): string => JSON.stringify(text);

export function request(
  partial: Partial<InboundRequest> & { headers?: InboundRequest['headers'] } = {},
): InboundRequest {
  return {
    method: 'GET',
    url: '/headers',
    authority: 'httpbin.foo:8000',
    headers: {},
    scheme: 'http',
    port: 8000,
    peer: null,
    sourceIp: '10.0.0.1',
    destinationIp: '10.0.0.2',
    sni: null,
    ...partial,
  };
}

export const bearer = (token: string): InboundRequest['headers'] => ({ authorization: `Bearer ${token}` });

export interface TestKey {
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly alg: string;
  readonly kid: string;
}

export async function makeKey(alg: string, kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg };
  return { privateKey, publicJwk, alg, kid };
}

export function jwksOf(...keys: TestKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => k.publicJwk) });
}

/** Signs exactly the given claims (no defaults), with kid unless `kid: null`. */
export async function sign(
  key: TestKey,
  claims: JWTPayload,
  header: { kid?: string | null; typ?: string } = {},
): Promise<string> {
  const kid = header.kid === undefined ? key.kid : header.kid;
  return new SignJWT(claims)
    .setProtectedHeader({
      alg: key.alg,
      ...(kid === null ? {} : { kid }),
      ...(header.typ ? { typ: header.typ } : {}),
    })
    .sign(key.privateKey);
}

export const b64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
