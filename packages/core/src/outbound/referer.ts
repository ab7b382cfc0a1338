import { isIPv6 } from 'node:net';

/**
 * Envoy's connection manager removes a request's `referer` before any filter when its value is
 * not a valid Referer (envoy conn_manager_utility.cc mutateRequestHeaders, "Sanitize referer
 * field if exists"; on since Envoy 1.22). Every connection manager does it: a sidecar's
 * inbound and outbound listeners and a gateway's.
 */
export const REFERER = 'referer';

/**
 * What the connection manager leaves of a request's `referer`: its value, repeats joined with
 * `,`, or null when it removes it. mutateRequestHeaders would remove several referer entries,
 * but Istio's proxy never has several: the CEL attributes, the CSRF filter and the
 * OpenTelemetry access logger register referer as an inline header
 * (filters/common/expr/context.cc), and the header map joins an inline header's repeats with
 * `,` as the codec reads them (header_map_impl.cc insertByKey). The joined value is judged.
 */
export function sanitizedReferer(value: string | readonly string[]): string | null {
  const joined = typeof value === 'string' ? value : value.join(',');
  return isValidReferer(joined) ? joined : null;
}

/**
 * Envoy's isValidRefererValue (envoy http/utility.cc): an absolute URL without a fragment or
 * userinfo, else a relative reference (relative ones are accepted since Envoy 1.27,
 * envoy.reloadable_features.http_allow_partial_urls_in_referer). "Absolute" is what Envoy's
 * Url::initialize accepts: http_parser's URL grammar (built non-strict) with a scheme or a
 * host, and a bracketed host that is an IP address. So `about:blank` and `android-app://…`
 * are removed, as Envoy removes them.
 */
export function isValidReferer(value: string): boolean {
  const url = parseAbsolute(value);
  if (url !== null) return !url.fragment && !url.userinfo;
  return isRelativeReference(value);
}

interface AbsoluteUrl {
  readonly fragment: boolean;
  readonly userinfo: boolean;
}

const enum S {
  Dead,
  Start,
  Schema,
  SchemaSlash,
  SchemaSlashSlash,
  ServerStart,
  Server,
  ServerWithAt,
  Path,
  QueryStart,
  Query,
  FragmentStart,
  Fragment,
}

/**
 * The URL a request line may carry, as http_parser's parse_url_char reads one character at a
 * time. Characters are the header's bytes (node gives header values as latin1).
 */
function parseAbsolute(value: string): AbsoluteUrl | null {
  let s = S.Start;
  let fragment = false;
  let hostStart = -1;
  let hostEnd = -1;
  let foundAt = false;
  for (let i = 0; i < value.length; i++) {
    s = next(s, value.charCodeAt(i));
    if (s === S.Dead) return null;
    // An `@` belongs to the host field, as the characters around it.
    if (s === S.Server || s === S.ServerWithAt) {
      if (hostStart < 0) hostStart = i;
      hostEnd = i + 1;
      if (s === S.ServerWithAt) foundAt = true;
    } else if (s === S.Fragment) fragment = true;
  }
  // http_parser: "host must be present if there is a schema"; Envoy's Url::initialize wants
  // a scheme or a host, so a URL without a host (a path) is no absolute URL either.
  if (hostStart < 0) return null;
  const host = parseHost(value.slice(hostStart, hostEnd), foundAt);
  return host === null ? null : { fragment, userinfo: host.userinfo };
}

function next(s: S, c: number): S {
  // Space, CR and LF end a URL in every state.
  if (c === 0x20 || c === 0x0d || c === 0x0a) return S.Dead;
  switch (s) {
    case S.Start:
      // http_parser also starts a path at `/` or `*`; a URL without a host is no absolute one
      // to Envoy, so those are read as relative references instead.
      return isAlpha(c) ? S.Schema : S.Dead;
    case S.Schema:
      if (isAlpha(c)) return S.Schema;
      return c === 0x3a ? S.SchemaSlash : S.Dead; // ':'
    case S.SchemaSlash:
      return c === 0x2f ? S.SchemaSlashSlash : S.Dead;
    case S.SchemaSlashSlash:
      return c === 0x2f ? S.ServerStart : S.Dead;
    // A second `@` is refused by parseHost, as http_parser's host parser refuses it.
    case S.ServerWithAt:
    case S.ServerStart:
    case S.Server:
      if (c === 0x2f) return S.Path;
      if (c === 0x3f) return S.QueryStart; // '?'
      if (c === 0x40) return S.ServerWithAt;
      return isUserinfoChar(c) || c === 0x5b || c === 0x5d ? S.Server : S.Dead; // '[' ']'
    case S.Path:
      if (isUrlChar(c)) return S.Path;
      if (c === 0x3f) return S.QueryStart;
      return c === 0x23 ? S.FragmentStart : S.Dead; // '#'
    case S.QueryStart:
    case S.Query:
      if (isUrlChar(c) || c === 0x3f) return S.Query;
      return c === 0x23 ? S.FragmentStart : S.Dead;
    case S.FragmentStart:
      if (isUrlChar(c) || c === 0x3f) return S.Fragment;
      return c === 0x23 ? S.FragmentStart : S.Dead;
    case S.Fragment:
      return isUrlChar(c) || c === 0x3f || c === 0x23 ? S.Fragment : S.Dead;
    default:
      return S.Dead;
  }
}

/**
 * http_parser's http_parse_host: `[userinfo@]host[:port]`, the host a name of letters, digits,
 * `.`, `-` and `_`, or a bracketed IPv6 literal (a zone is read but is no IP address to Envoy's
 * parseAuthority here); the port digits up to 65535.
 */
function parseHost(text: string, foundAt: boolean): { readonly userinfo: boolean } | null {
  let i = 0;
  let userinfo = false;
  if (foundAt) {
    const at = text.indexOf('@');
    for (; i < at; i++) if (!isUserinfoChar(text.charCodeAt(i))) return null;
    userinfo = at > 0;
    i = at + 1;
  }
  let end: number;
  if (text.charCodeAt(i) === 0x5b) {
    end = text.indexOf(']', i) + 1;
    const literal = text.slice(i + 1, end - 1);
    if (end === 0 || literal.includes('%') || !isIPv6(literal)) return null;
  } else {
    end = i;
    while (end < text.length && isHostChar(text.charCodeAt(end))) end++;
    if (end === i) return null;
  }
  const port = text.slice(end);
  if (port !== '' && (!/^:[0-9]+$/.test(port) || Number(port.slice(1)) > 0xffff)) return null;
  return { userinfo };
}

/**
 * A relative reference: every character one a query or fragment may hold (RFC 3986 pchar,
 * `/` and `?`: no `#`, no space, nothing above 0x7f), and no `:` before the first `/`
 * (RFC 3986 §4.2: it would read as a scheme).
 */
function isRelativeReference(value: string): boolean {
  let slash = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x3a) {
      if (!slash) return false;
    } else if (c === 0x2f) slash = true;
    else if (!isQueryChar(c)) return false;
  }
  return true;
}

function isAlpha(c: number): boolean {
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x7a;
}

function isAlphanumeric(c: number): boolean {
  return isAlpha(c) || (c >= 0x30 && c <= 0x39);
}

// http_parser's IS_MARK, then IS_USERINFO_CHAR's additions.
const USERINFO = new Set([..."-_.!~*'()%;:&=+$,"].map((ch) => ch.charCodeAt(0)));

function isUserinfoChar(c: number): boolean {
  return isAlphanumeric(c) || USERINFO.has(c);
}

function isHostChar(c: number): boolean {
  return isAlphanumeric(c) || c === 0x2e || c === 0x2d || c === 0x5f; // . - _ (non-strict)
}

/**
 * http_parser's IS_URL_CHAR, non-strict: printable ASCII but space, `#` and `?`; tab and form
 * feed; any byte above 0x7f.
 */
function isUrlChar(c: number): boolean {
  if (c >= 0x80) return true;
  if (c === 0x09 || c === 0x0c) return true;
  return c > 0x20 && c < 0x7f && c !== 0x23 && c !== 0x3f;
}

// RFC 3986 query / fragment: unreserved, pct-encoded's `%`, sub-delims, `:`, `@`, `/`, `?`
// (envoy http/character_set_validation.h kUriQueryAndFragmentCharTable).
const QUERY = new Set([..."/?:@-._~%!$&'()*+,;="].map((ch) => ch.charCodeAt(0)));

function isQueryChar(c: number): boolean {
  return isAlphanumeric(c) || QUERY.has(c);
}
