/**
 * Trust-domain alias handling (istio pilot/pkg/security/trustdomain/bundle.go).
 * The bundle is meshConfig `trustDomain` followed by `trustDomainAliases`.
 */

function prefixMatch(a: string, pattern: string): boolean {
  return pattern.endsWith('*') && a.startsWith(pattern.slice(0, -1));
}

function suffixMatch(a: string, pattern: string): boolean {
  return pattern.startsWith('*') && a.endsWith(pattern.slice(1));
}

/** trustdomain/util.go `stringMatch`: the wildcard may be on either side. */
function tdMatch(a: string, list: readonly string[]): boolean {
  return list.some(
    (s) =>
      a === s ||
      s === '*' ||
      prefixMatch(a, s) ||
      prefixMatch(s, a) ||
      suffixMatch(a, s) ||
      suffixMatch(s, a),
  );
}

/**
 * `ReplaceTrustDomainAliases`: a principal `<td>/ns/<ns>/sa/<sa>` whose trust
 * domain is the local one, an alias, or literally `cluster.local` is expanded to
 * one principal per trust domain of the bundle; a `*` trust domain, a malformed
 * principal or a foreign trust domain is kept as written.
 */
export function replaceTrustDomainAliases(
  principals: readonly string[],
  bundle: readonly string[],
): string[] {
  const out: string[] = [];
  for (const principal of principals) {
    const parts = principal.split('/');
    const td = parts[0] ?? '';
    if (parts.length !== 5 || td === '*' || !(tdMatch(td, bundle) || td === 'cluster.local')) {
      out.push(principal);
      continue;
    }
    const expanded: string[] = [];
    for (const t of bundle) {
      const p = suffixMatch(t, td) ? principal : [t, ...parts.slice(1)].join('/');
      if (!expanded.includes(p)) expanded.push(p);
    }
    out.push(...expanded);
  }
  return out;
}

/** `ExpandTrustDomainAliases` for `trustDomains`: a value in the bundle stands for all of it. */
export function expandTrustDomains(values: readonly string[], bundle: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const x of bundle.includes(v) ? bundle : [v]) if (!out.includes(x)) out.push(x);
  }
  return out;
}
