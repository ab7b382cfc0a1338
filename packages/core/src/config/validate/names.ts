/** DNS-1123 label: lowercase alphanumerics and '-', 1-63 chars, alphanumeric at both ends. */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isDns1123Label(s: string): boolean {
  return s.length > 0 && s.length <= 63 && DNS1123_LABEL.test(s);
}

/**
 * Istio's `ValidateWildcardDomain`: a FQDN whose first label may be `*` or `*suffix`,
 * at most 255 chars. Uppercase is accepted by Istio for hosts (labels are checked
 * case-insensitively), so we lowercase before the label test.
 */
export function checkWildcardDomain(host: string): string | null {
  if (host.length === 0) return 'domain name cannot be empty';
  if (host.length > 255) return `domain name ${JSON.stringify(host)} too long (max 255)`;
  const labels = host.split('.');
  const first = labels[0] as string;
  if (first.startsWith('*')) {
    const rest = first.slice(1);
    if (rest !== '' && !isDns1123Label(rest.toLowerCase().replace(/^-+/, 'a'))) {
      return `domain name ${JSON.stringify(host)} invalid (label ${JSON.stringify(first)} invalid)`;
    }
    labels.shift();
    if (labels.length === 0) return null;
  }
  for (const [i, label] of labels.entries()) {
    if (i === labels.length - 1 && label === '' && labels.length > 1) continue; // trailing dot
    if (!isDns1123Label(label.toLowerCase())) {
      return `domain name ${JSON.stringify(host)} invalid (label ${JSON.stringify(label)} invalid)`;
    }
  }
  return null;
}

export function isIpAddress(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}

export function isIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(p));
}

export function isIPv6(s: string): boolean {
  if (!s.includes(':') || !/^[0-9a-fA-F:.]+$/.test(s)) return false;
  const dbl = s.split('::');
  if (dbl.length > 2) return false;
  const groups = s.split(':').filter((g) => g !== '');
  const last = groups.at(-1) ?? '';
  const v4 = last.includes('.');
  if (v4 && !isIPv4(last)) return false;
  const n = groups.length + (v4 ? 1 : 0);
  if (groups.some((g, i) => !(v4 && i === groups.length - 1) && !/^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return dbl.length === 2 ? n < 8 : n === 8;
}

/** `10.0.0.0/8`, `::1/128` or a bare IP. */
export function isCidrOrIp(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return isIpAddress(s);
  const ip = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return false;
  const n = Number(bits);
  if (isIPv4(ip)) return n <= 32;
  if (isIPv6(ip)) return n <= 128;
  return false;
}
