/** The port of an Envoy `ip:port` / `[ip6]:port` address string, or undefined. */
export function portOf(address: string | null | undefined): bigint | undefined {
  if (address == null) return undefined;
  const m = /:(\d+)$/.exec(address);
  return m === null ? undefined : BigInt(m[1] as string);
}

/** Envoy's `request.query`: after `?`, up to `#`; empty when there is none (context.cc Query). */
export function queryOf(path: string): string {
  const q = path.indexOf('?');
  if (q < 0) return '';
  const rest = path.slice(q + 1);
  const f = rest.indexOf('#');
  return f < 0 ? rest : rest.slice(0, f);
}

/** Envoy's `request.url_path`: the path without the query (context.cc UrlPath). */
export function urlPathOf(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}
