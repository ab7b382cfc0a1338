/** Result of reading one admin endpoint. */
export type AdminFetchResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** `http://127.0.0.1:15000/` or `127.0.0.1:15000` → `http://127.0.0.1:15000`. */
export function adminBase(url: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
  return withScheme.replace(/\/+$/, '');
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    if (cause instanceof Error) return `${err.message} (${cause.message})`;
    return err.message;
  }
  return String(err);
}

/**
 * GETs `<base><path>` from a meshlet admin server and parses JSON, for the
 * `proxy-status` and `proxy-config` commands. Never throws: an unreachable server, a
 * non-200 answer or a body that is not JSON is an error string.
 */
export async function fetchAdminJson<T>(
  base: string,
  path: string,
  options: { readonly timeoutMs?: number; readonly fetch?: typeof fetch } = {},
): Promise<AdminFetchResult<T>> {
  const f = options.fetch ?? globalThis.fetch;
  try {
    const res = await f(`${adminBase(base)}${path}`, {
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
    const body = await res.text();
    if (res.status !== 200) return { ok: false, error: `${path} answered ${res.status}` };
    try {
      return { ok: true, value: JSON.parse(body) as T };
    } catch {
      return { ok: false, error: `${path} did not answer JSON (is this a meshlet admin port?)` };
    }
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}
