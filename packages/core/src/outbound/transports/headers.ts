/**
 * Builds lower-case response headers from Node's `rawHeaders`, keeping every repeated
 * header as an array (Node's `headers` would join them with `, `, which is wrong for
 * headers whose values may contain commas).
 */
export function headersFromRaw(raw: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (typeof prev === 'string') out[name] = [prev, value];
    else prev.push(value);
  }
  return out;
}

/** undici's response headers (arrays for repeats already), made lower-case and string-valued. */
export function headersFromUndici(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const v = headers[name];
    if (v !== undefined) out[name.toLowerCase()] = v;
  }
  return out;
}
