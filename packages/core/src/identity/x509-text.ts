/** How Envoy prints an X.509 certificate's names and PEM (XFCC, access logs, CEL). */

/**
 * A subject or issuer as Envoy prints it: X509_NAME_print_ex with XN_FLAG_RFC2253 (envoy
 * source/common/tls/utility.cc getSubjectFromCertificate), from node's `X509Certificate.subject`,
 * which OpenSSL prints with the same RFC 2253 escapes but top-down, one RDN a line, ` + `
 * inside a multi-valued RDN, and UTF-8 left as it is. RFC 2253 order is bottom-up (within a
 * multi-valued RDN too), `,` and `+` bare, and ASN1_STRFLGS_ESC_MSB writes each byte past
 * ASCII as `\XX`. A ` + ` in a value is escaped (`\+`), so the split is unambiguous.
 */
export function rfc2253Name(name: string | undefined): string {
  if (name === undefined || name === '') return '';
  const rdns = name.split('\n');
  let out = '';
  for (let i = rdns.length - 1; i >= 0; i--) {
    const rdn = rdns[i] as string;
    if (rdn === '') continue;
    if (out !== '') out += ',';
    out += rdn.includes(' + ') ? rdn.split(' + ').reverse().join('+') : rdn;
  }
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(out)) return out;
  let escaped = '';
  for (const byte of Buffer.from(out, 'utf8'))
    escaped += byte < 0x80 ? String.fromCharCode(byte) : `\\${byte.toString(16).toUpperCase()}`;
  return escaped;
}

/**
 * Envoy's url-encoding of a PEM certificate (source/common/tls/connection_info_impl_base.cc
 * urlEncodedPemEncodedPeerCertificate): exactly these five characters, nothing else. The
 * PEM is node's `X509Certificate.toString()`, 64-character base64 lines as OpenSSL's
 * PEM_write_bio_X509 writes them.
 */
export function urlEncodePem(pem: string): string {
  return pem
    .replace(/\n/g, '%0A')
    .replace(/ /g, '%20')
    .replace(/\+/g, '%2B')
    .replace(/\//g, '%2F')
    .replace(/=/g, '%3D');
}
