/**
 * Request headers Node's HTTP parser keeps once: a later line of the same name is dropped
 * (node lib/_http_incoming.js `matchKnownFields` / `_addHeaderLine`, without the server
 * option `joinDuplicateHeaders`).
 */
const FIRST_ONLY: ReadonlySet<string> = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/**
 * The `req.headers` value a Node server shows for a request header sent as several lines
 * with these values, in order: the first line for the names Node keeps once, the lines
 * joined with `; ` for Cookie, with `, ` for every other name. (Set-Cookie, which Node
 * shows as an array, is joined with `, ` here.) `name` is lower case; `values` not empty.
 */
export function nodeJoinedHeader(name: string, values: readonly string[]): string {
  if (values.length === 1 || FIRST_ONLY.has(name)) return values[0] ?? '';
  return values.join(name === 'cookie' ? '; ' : ', ');
}
