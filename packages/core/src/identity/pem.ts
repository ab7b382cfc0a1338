import { X509Certificate } from 'node:crypto';

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The `CERTIFICATE` blocks of a PEM bundle, in order, each ending with a newline. */
export function splitPemCertificates(pem: string): readonly string[] {
  return (pem.match(CERT_BLOCK) ?? []).map((block) => `${block}\n`);
}

/**
 * Parse every certificate of a PEM bundle. Throws a plain Error naming `what` when the
 * bundle holds no certificate or one that does not parse (a half-written file).
 */
export function parseCertificates(pem: string, what: string): readonly X509Certificate[] {
  const blocks = splitPemCertificates(pem);
  if (blocks.length === 0) throw new Error(`${what} holds no PEM certificate`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new Error(
        `${what}: certificate #${i + 1} does not parse (${err instanceof Error ? err.message : String(err)})`,
        { cause: err },
      );
    }
  });
}

/**
 * Whether `leaf` chains to one of `roots` through `intermediates`: each step must be
 * issued (`checkIssued`) and signed (`verify`) by the next. Bounded by the bundle size.
 */
export function chainsToRoot(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  roots: readonly X509Certificate[],
): boolean {
  let current = leaf;
  for (let step = 0; step <= intermediates.length; step++) {
    if (roots.some((r) => current.checkIssued(r) && current.verify(r.publicKey))) return true;
    const next = intermediates.find(
      (c) =>
        c !== current &&
        c.fingerprint256 !== current.fingerprint256 &&
        current.checkIssued(c) &&
        current.verify(c.publicKey),
    );
    if (next === undefined) return false;
    current = next;
  }
  return false;
}
