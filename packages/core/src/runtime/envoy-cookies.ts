/**
 * Cookie pairs from every `Cookie` header, the first of a name winning, as Envoy's
 * `Utility::parseCookies` (http/utility.cc `forEachCookie`) reads them: split at ";", only the
 * spaces before a name skipped, the value as written up to the ";", then one pair of
 * surrounding quotes removed.
 */
export function parseCookies(header: string | readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of typeof header === 'string' ? [header] : header) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      let from = 0;
      while (from < eq && part.charCodeAt(from) === 32) from++;
      const name = part.slice(from, eq);
      let value = part.slice(eq + 1);
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (name !== '' && !out.has(name)) out.set(name, value);
    }
  }
  return out;
}
