import { z } from 'zod';
import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';

/** ServerTLSSettings (istio/api networking/v1alpha3/gateway.proto), shared by Gateway and Sidecar ingress. */

const tlsVersion = z.enum(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3']);

export const serverTlsSettings = z
  .strictObject({
    httpsRedirect: z.boolean().optional(),
    /** Unset means PASSTHROUGH (enum value 0). */
    mode: z
      .enum(['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'])
      .optional(),
    serverCertificate: z.string().optional(),
    privateKey: z.string().optional(),
    caCertificates: z.string().optional(),
    caCrl: z.string().optional(),
    credentialName: z.string().optional(),
    credentialNames: z.array(z.string()).min(1).max(2).optional(),
    tlsCertificates: z
      .array(
        z.strictObject({
          serverCertificate: z.string().optional(),
          privateKey: z.string().optional(),
          caCertificates: z.string().optional(),
        }),
      )
      .min(1)
      .max(2)
      .optional(),
    caCertCredentialName: z.string().optional(),
    subjectAltNames: z.array(z.string()).optional(),
    verifyCertificateSpki: z.array(z.string()).optional(),
    verifyCertificateHash: z.array(z.string()).optional(),
    minProtocolVersion: tlsVersion.optional(),
    maxProtocolVersion: tlsVersion.optional(),
    cipherSuites: z.array(z.string()).optional(),
    ecdhCurves: z.array(z.string()).optional(),
    insecureSkipVerify: z.boolean().optional(),
  })
  .superRefine((tls, ctx) => {
    // The CRD's CEL rules on certificate sources.
    if (tls.tlsCertificates !== undefined && tls.credentialNames !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'only one of credentialNames or tlsCertificates can be set' });
    }
    if (tls.credentialName !== undefined && tls.credentialNames !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'only one of credentialName or credentialNames can be set' });
    }
  });
export type ServerTLSSettings = z.infer<typeof serverTlsSettings>;

// istio pkg/config/security/security.go ValidCipherSuites.
const VALID_CIPHERS: ReadonlySet<string> = new Set([
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-RSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA',
  'ECDHE-RSA-AES256-SHA',
  'AES128-GCM-SHA256',
  'AES256-GCM-SHA384',
  'AES128-SHA',
  'AES256-SHA',
  'DES-CBC3-SHA',
]);

function isValidCipher(cs: string): boolean {
  // Envoy operators (`-`, `+`, `!`, `[`) are let through unparsed, as Istio does.
  return cs === '' || cs === 'ALL' || !/^[\p{L}\p{N}]/u.test(cs) || VALID_CIPHERS.has(cs);
}

const set = (s: string | undefined): boolean => s !== undefined && s !== '';

/** `validateTLSOptions`: mode-specific certificate rules for a server. */
export function validateServerTls(
  tls: ServerTLSSettings | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  if (tls === undefined) return;
  const mode = tls.mode ?? 'PASSTHROUGH';
  const ciphers = tls.cipherSuites ?? [];
  if (
    (tls.minProtocolVersion === 'TLSV1_0' || tls.minProtocolVersion === 'TLSV1_1') &&
    ciphers.length === 0
  ) {
    ctx.warn(
      [...path, 'minProtocolVersion'],
      'TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.',
    );
  }
  const invalid = new Set<string>();
  const valid = new Set<string>();
  const dups = new Set<string>();
  for (const cs of ciphers) {
    if (!isValidCipher(cs)) invalid.add(cs);
    else if (valid.has(cs)) dups.add(cs);
    else valid.add(cs);
  }
  if (invalid.size > 0)
    ctx.warn([...path, 'cipherSuites'], `ignoring invalid cipher suites: [${[...invalid].sort().join(' ')}]`);
  if (dups.size > 0)
    ctx.warn([...path, 'cipherSuites'], `ignoring duplicate cipher suites: [${[...dups].sort().join(' ')}]`);

  const certCount = (tls.tlsCertificates ?? []).length;
  const credNames = (tls.credentialNames ?? []).length;
  if (mode === 'ISTIO_MUTUAL') {
    // ISTIO_MUTUAL uses the workload's own certificates, so no other source may be named.
    const forbidden: [boolean, string, string][] = [
      [set(tls.serverCertificate), 'serverCertificate', 'server certificate'],
      [set(tls.privateKey), 'privateKey', 'private key'],
      [set(tls.caCertificates), 'caCertificates', 'CA bundle'],
      [certCount > 0, 'tlsCertificates', 'tlsCertificates'],
      [set(tls.credentialName), 'credentialName', 'credentialName'],
      [credNames > 0, 'credentialNames', 'credentialNames'],
    ];
    for (const [isSet, field, what] of forbidden) {
      if (isSet) ctx.error([...path, field], `ISTIO_MUTUAL TLS cannot have associated ${what}`);
    }
    return;
  }
  if (mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') {
    const anyCert =
      set(tls.caCrl) ||
      set(tls.serverCertificate) ||
      set(tls.privateKey) ||
      set(tls.caCertificates) ||
      certCount > 0 ||
      set(tls.credentialName) ||
      credNames > 0;
    if (anyCert) ctx.warn(path, `${mode} mode does not use certificates, they will be ignored`);
  }
  const sources =
    (set(tls.serverCertificate) && set(tls.privateKey) ? 1 : 0) +
    (set(tls.credentialName) ? 1 : 0) +
    (credNames > 0 ? 1 : 0) +
    (certCount > 0 ? 1 : 0);
  if (sources > 1) {
    ctx.error(
      path,
      'only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should be specified',
    );
  }
  const terminating = mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL';
  if (terminating && (set(tls.credentialName) || credNames > 0)) return;
  if (terminating) {
    const prefix = mode === 'SIMPLE' ? 'SIMPLE TLS' : 'MUTUAL TLS';
    if (mode !== 'SIMPLE' && !set(tls.caCertificates)) {
      ctx.error([...path, 'caCertificates'], `${prefix} requires a client CA bundle`);
    }
    const certs = certCount > 0 ? (tls.tlsCertificates ?? []) : [tls];
    for (const cert of certs) {
      if (!set(cert.serverCertificate))
        ctx.error([...path, 'serverCertificate'], `${prefix} requires a server certificate`);
      if (!set(cert.privateKey)) ctx.error([...path, 'privateKey'], `${prefix} requires a private key`);
    }
  }
  if (set(tls.caCrl)) {
    if (set(tls.credentialName)) {
      ctx.error(
        [...path, 'caCrl'],
        'CRL is not supported with credentialName. CRL has to be specified in the credential',
      );
    }
    if (mode === 'SIMPLE') ctx.error([...path, 'caCrl'], 'CRL is not supported with SIMPLE TLS');
  }
}
