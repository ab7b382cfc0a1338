import { X509Certificate } from 'node:crypto';
import { DIAGNOSTIC_CODES } from './diagnostic-codes.js';
import type { FieldPath } from './diagnostic.js';
import type { CaCertificate } from './mesh-config.js';
import type { MeshConfigPatch } from './mesh-config-parse.js';
import type { Finding } from './validate/context.js';
import { suggest } from './validate/zod-issues.js';
import { isRecord } from './validate/is-record.js';

/**
 * The MeshConfig fields of mesh TLS: `meshMTLS` (the mesh mTLS server side), `tlsDefaults`
 * (SIMPLE/MUTUAL origination) and `caCertificates` (extra trust anchors), checked as
 * istio's mesh config validation checks them and written into `patch`.
 */
export function parseMeshTls(
  value: Record<string, unknown>,
  patch: MeshConfigPatch,
  err: (path: FieldPath, message: string) => void,
  findings: Finding[],
  base: FieldPath,
): void {
  const mtls = tlsConfig(value['meshMTLS'], ['meshMTLS'], err, findings, base);
  if (mtls !== null) {
    // istio pkg/config/validation/agent ValidateMeshTLSConfig.
    if (mtls.ecdhCurves !== null)
      err(['meshMTLS', 'ecdhCurves'], 'mesh TLS does not support ECDH curves configuration');
    patch.meshMTLS = Object.freeze({
      minVersion: mtls.minVersion ?? 'TLSv1.2',
      cipherSuites: Object.freeze(mtls.cipherSuites ?? []),
    });
  }
  const defaults = tlsConfig(value['tlsDefaults'], ['tlsDefaults'], err, findings, base);
  if (defaults !== null) {
    patch.tlsDefaults = Object.freeze({
      ecdhCurves: Object.freeze(defaults.ecdhCurves ?? []),
      cipherSuites: Object.freeze(defaults.cipherSuites ?? []),
      minProtocolVersion: defaults.minVersion,
    });
  }
  const cas = value['caCertificates'];
  if (cas !== undefined && cas !== null) {
    const parsed = caCertificates(cas, err, findings, base);
    if (parsed !== null) patch.caCertificates = parsed;
  }
}

/** Curves istio accepts in `ecdhCurves` (istio pkg/config/security ValidECDHCurves). */
const VALID_ECDH_CURVES = new Set([
  'P-224',
  'P-256',
  'P-521',
  'P-384',
  'X25519',
  'X25519Kyber768Draft00',
  'X25519MLKEM768',
]);

/** A MeshConfig `TLSConfig` (`meshMTLS`, `tlsDefaults`) as given; null when absent. */
function tlsConfig(
  v: unknown,
  at: FieldPath,
  err: (path: FieldPath, message: string) => void,
  findings: Finding[],
  base: FieldPath,
): {
  minVersion: 'TLSv1.2' | 'TLSv1.3' | null;
  ecdhCurves: string[] | null;
  cipherSuites: string[] | null;
} | null {
  if (v === undefined || v === null) return null;
  const out = {
    minVersion: null as 'TLSv1.2' | 'TLSv1.3' | null,
    ecdhCurves: null as string[] | null,
    cipherSuites: null as string[] | null,
  };
  if (!isRecord(v)) {
    err(at, 'expected an object');
    return out;
  }
  for (const key of Object.keys(v)) {
    const x = v[key];
    if (key === 'minProtocolVersion') {
      if (x === 'TLSV1_3') out.minVersion = 'TLSv1.3';
      else if (x === 'TLSV1_2' || x === 'TLS_AUTO') out.minVersion = 'TLSv1.2';
      else
        err(
          [...at, key],
          `Unsupported value: ${JSON.stringify(x)}: supported values: TLS_AUTO, TLSV1_2, TLSV1_3`,
        );
    } else if (key === 'ecdhCurves' || key === 'cipherSuites') {
      const names: unknown[] = Array.isArray(x) ? x : [];
      if (!Array.isArray(x) || !names.every((n): n is string => typeof n === 'string')) {
        err([...at, key], 'expected a list of names');
        continue;
      }
      out[key] = [...names];
      if (key === 'ecdhCurves') {
        // istio ValidateMeshTLSDefaults warns on unknown and repeated curves.
        const unknown = names.filter((n) => !VALID_ECDH_CURVES.has(n));
        const repeated = names.filter((n, i) => names.indexOf(n) !== i);
        for (const [what, list] of [
          ['unrecognized', unknown],
          ['duplicate', repeated],
        ] as const) {
          if (list.length > 0)
            findings.push({
              level: 'Warning',
              code: DIAGNOSTIC_CODES.schema,
              path: [...base, ...at, key],
              message: `detected ${what} ECDH curves: [${[...new Set(list)].sort().join(' ')}]`,
            });
        }
      }
    } else {
      const hint = suggest(key, ['minProtocolVersion', 'ecdhCurves', 'cipherSuites']);
      err(
        [...at, key],
        `unknown field ${JSON.stringify(key)}${hint === null ? '' : ` (did you mean ${JSON.stringify(hint)}?)`}`,
      );
    }
  }
  return out;
}

const stringList = (v: unknown): string[] | null =>
  v === undefined || v === null
    ? []
    : Array.isArray(v) && v.every((x): x is string => typeof x === 'string')
      ? [...v]
      : null;

/** `caCertificates[]`: each a PEM bundle or a SPIFFE bundle URL, scoped by trust domains and signers. */
function caCertificates(
  v: unknown,
  err: (path: FieldPath, message: string) => void,
  findings: Finding[],
  base: FieldPath,
): readonly CaCertificate[] | null {
  if (!Array.isArray(v)) {
    err(['caCertificates'], 'expected a list');
    return null;
  }
  const out: CaCertificate[] = [];
  v.forEach((entry: unknown, i) => {
    const at: FieldPath = ['caCertificates', i];
    if (!isRecord(entry)) {
      err(at, 'expected an object with pem or spiffeBundleUrl');
      return;
    }
    const pem = typeof entry['pem'] === 'string' && entry['pem'] !== '' ? entry['pem'] : null;
    const url =
      typeof entry['spiffeBundleUrl'] === 'string' && entry['spiffeBundleUrl'] !== ''
        ? entry['spiffeBundleUrl']
        : null;
    if ((pem === null) === (url === null)) {
      err(at, 'set exactly one of pem or spiffeBundleUrl');
      return;
    }
    if (pem !== null) {
      const problem = pemProblem(pem);
      if (problem !== null) {
        err([...at, 'pem'], problem);
        return;
      }
    }
    if (url !== null)
      findings.push({
        level: 'Warning',
        code: DIAGNOSTIC_CODES.unsupported,
        path: [...base, ...at, 'spiffeBundleUrl'],
        message: "meshlet does not fetch SPIFFE trust bundles: give the bundle's root certificates as pem",
      });
    const trustDomains = stringList(entry['trustDomains']);
    const certSigners = stringList(entry['certSigners']);
    if (trustDomains === null) err([...at, 'trustDomains'], 'expected a list of trust domains');
    if (certSigners === null) err([...at, 'certSigners'], 'expected a list of signer names');
    for (const key of Object.keys(entry)) {
      if (!['pem', 'spiffeBundleUrl', 'trustDomains', 'certSigners'].includes(key))
        err([...at, key], `unknown field ${JSON.stringify(key)}`);
    }
    out.push(
      Object.freeze({
        pem,
        spiffeBundleUrl: url,
        trustDomains: Object.freeze(trustDomains ?? []),
        certSigners: Object.freeze(certSigners ?? []),
      }),
    );
  });
  return Object.freeze(out);
}

/** Why `pem` is not a bundle of X.509 certificates, or null (each block is parsed). */
function pemProblem(pem: string): string | null {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (blocks === null) return 'expected PEM certificates (-----BEGIN CERTIFICATE-----)';
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (e) {
      return `certificate ${i + 1} is not valid X.509: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  return null;
}
