import { X509Certificate } from 'node:crypto';
import type { SecretDump } from '../admin/secrets-dump.js';
import type { Cell } from './table.js';

/** istioctl proxy-config secret's columns (istioctl/pkg/writer/compare/sds/writer.go). */
export const SECRET_COLUMNS = [
  'RESOURCE NAME',
  'TYPE',
  'STATUS',
  'VALID CERT',
  'SERIAL NUMBER',
  'NOT AFTER',
  'NOT BEFORE',
] as const;

/** Go's time.RFC3339 for a UTC time: no fraction of a second. */
const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * One row per secret, as istioctl reads it from the config dump (sds/util.go
 * `secretMetaFromCert`): the first certificate of its PEM gives the type (`CA` for a CA,
 * else `Cert Chain`), the serial number (32 hex digits), the validity, and VALID CERT
 * (now within it); a WARMING secret, or one whose PEM does not parse, has only its name,
 * status and `false`.
 */
export function secretRows(secrets: readonly SecretDump[], now: number = Date.now()): Cell[][] {
  return secrets.map((s) => {
    const cert = parse(s.certificate);
    if (cert === null)
      return [
        { text: s.name },
        { text: '' },
        { text: s.state },
        { text: 'false' },
        { text: '' },
        { text: '' },
        { text: '' },
      ];
    const notBefore = new Date(cert.validFrom);
    const notAfter = new Date(cert.validTo);
    const valid = now > notBefore.getTime() && now < notAfter.getTime();
    return [
      { text: s.name },
      { text: cert.ca ? 'CA' : 'Cert Chain' },
      { text: s.state },
      { text: String(valid) },
      { text: cert.serialNumber.toLowerCase().padStart(32, '0') },
      { text: rfc3339(notAfter) },
      { text: rfc3339(notBefore) },
    ];
  });
}

/** The first certificate of a PEM; null for none, or text that is not one. */
function parse(pem: string | null): X509Certificate | null {
  if (pem === null) return null;
  try {
    return new X509Certificate(pem);
  } catch {
    return null;
  }
}
