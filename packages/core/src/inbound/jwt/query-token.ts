/**
 * The request target without the query parameters `names` (every occurrence, matched on
 * the decoded key), the others kept byte for byte; no `?` when none is left. Envoy's
 * jwt_authn takes a token it does not forward out of the query this way
 * (extractor.cc JwtParamLocation::removeJwt).
 */
export function withoutQueryParams(url: string, names: readonly string[]): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const kept = url
    .slice(q + 1)
    .split('&')
    .filter((pair) => {
      if (pair === '') return false;
      const eq = pair.indexOf('=');
      const raw = eq < 0 ? pair : pair.slice(0, eq);
      let key = raw;
      try {
        key = decodeURIComponent(raw.replace(/\+/g, ' '));
      } catch {
        // A key that does not decode is kept as written.
      }
      return !names.includes(key);
    });
  return kept.length === 0 ? url.slice(0, q) : `${url.slice(0, q)}?${kept.join('&')}`;
}
