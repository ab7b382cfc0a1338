import type { IncomingMessage } from 'node:http';

/**
 * Applies an allow decision's request header edits to the node request the
 * application will read: `removeHeaders` first (a JWT not forwarded,
 * RequestAuthentication `forwardOriginalToken: false`), then `setHeaders`
 * (`outputPayloadToHeader`, `outputClaimToHeaders`, which overwrite). Both
 * `headers` and `rawHeaders` are edited so no view of the request keeps the token.
 */
export function applyRequestHeaderEdits(
  req: IncomingMessage,
  removeHeaders: readonly string[],
  setHeaders: Readonly<Record<string, string>>,
): void {
  const setNames = Object.keys(setHeaders);
  if (removeHeaders.length === 0 && setNames.length === 0) return;
  const drop = new Set<string>();
  for (const name of removeHeaders) drop.add(name.toLowerCase());
  for (const name of setNames) drop.add(name.toLowerCase());
  for (const name of drop) delete req.headers[name];
  const raw: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (!drop.has(req.rawHeaders[i]!.toLowerCase())) raw.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  }
  for (const name of setNames) {
    const value = setHeaders[name]!;
    req.headers[name.toLowerCase()] = value;
    raw.push(name, value);
  }
  req.rawHeaders = raw;
}
