/**
 * jwt_verify_lib `CheckAudience` (check_audience.cc): audiences are compared after removing an
 * `http://` or `https://` scheme and one trailing `/`, so `https://api.example/` in a rule
 * accepts a token for `api.example`.
 */
export function sanitizeAudience(aud: string): string {
  let start = 0;
  if (aud.startsWith('http://')) start = 7;
  else if (aud.startsWith('https://')) start = 8;
  const end = aud.endsWith('/') ? aud.length - 1 : aud.length;
  return start === 0 && end === aud.length ? aud : aud.slice(start, Math.max(start, end));
}

/** The rule's `audiences`, sanitized; null when empty (the token's `aud` is then not checked). */
export function compileAudiences(audiences: readonly string[] | undefined): ReadonlySet<string> | null {
  if (audiences === undefined || audiences.length === 0) return null;
  return new Set(audiences.map(sanitizeAudience));
}

/** Any one of the token's audiences must be allowed; a token without `aud` then fails. */
export function audiencesAllowed(
  allowed: ReadonlySet<string> | null,
  tokenAudiences: readonly string[],
): boolean {
  if (allowed === null) return true;
  for (const aud of tokenAudiences) if (allowed.has(sanitizeAudience(aud))) return true;
  return false;
}
