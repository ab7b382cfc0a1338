import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

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
  // A handful of names at most: an array search is cheaper here than building a Set per request.
  const drop: string[] = [];
  for (const name of removeHeaders) drop.push(name.toLowerCase());
  for (const name of setNames) drop.push(name.toLowerCase());
  // A fresh object rather than `delete`: deleting a property turns the object V8 built for
  // node's parsed headers into a slow dictionary, and Fastify, the app and telemetry read
  // it for the rest of the request. Fastify and Express read `req.headers` live, so they
  // see the new object.
  const before = req.headers;
  const headers = Object.create(Object.getPrototypeOf(before) as object | null) as IncomingHttpHeaders;
  for (const name in before) if (!drop.includes(name)) headers[name] = before[name];
  req.headers = headers;
  // Compacted in place: the same array, so no reference to it still shows a removed token.
  const raw = req.rawHeaders;
  let kept = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (!drop.includes(name.toLowerCase())) {
      raw[kept++] = name;
      raw[kept++] = raw[i + 1]!;
    }
  }
  raw.length = kept;
  for (const name of setNames) {
    const value = setHeaders[name]!;
    headers[name.toLowerCase()] = value;
    raw.push(name, value);
  }
}
