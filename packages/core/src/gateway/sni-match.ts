/**
 * Envoy's filter chain match on server names (filter_chain_manager_impl.cc), as istiod
 * writes a gateway's chains: an exact name first, then the longest `*.` wildcard suffix
 * (which takes any depth of labels), then a chain without server names, which istiod
 * writes for a server or rule with host `*` and which also takes a connection without SNI.
 * Null when no chain takes the connection: Envoy closes it.
 */
export function matchServerName<T>(
  chains: readonly { readonly names: readonly string[]; readonly value: T }[],
  name: string | null,
): T | null {
  let best: T | null = null;
  let bestScore = -1;
  for (const c of chains) {
    for (const h of c.names) {
      const score = sniScore(h, name);
      if (score > bestScore) {
        best = c.value;
        bestScore = score;
      }
    }
  }
  return best;
}

/** How well `serverName` claims `name`: exact beats the longest wildcard beats `*`; -1 not at all. */
function sniScore(serverName: string, name: string | null): number {
  if (serverName === '*') return 0;
  if (name === null) return -1;
  if (serverName === name) return Number.MAX_SAFE_INTEGER;
  return serverName.startsWith('*.') && name.endsWith(serverName.slice(1)) ? serverName.length : -1;
}
