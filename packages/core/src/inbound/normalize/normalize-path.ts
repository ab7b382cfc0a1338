import type { PathNormalization } from '../../config/mesh-config.js';

/** A request target after meshConfig `pathNormalization`. */
export type NormalizedTarget =
  | {
      readonly ok: true;
      /** The path authorization matches (no query, no fragment). */
      readonly path: string;
      /** `?query` as received, or ''. Kept for the app, ignored for matching. */
      readonly query: string;
    }
  | {
      readonly ok: false;
      readonly detail: string;
      /**
       * Envoy's answer (conn_manager_impl.cc decodeHeaders): a path not starting with `/` is
       * `404` `absolute_path`, one the normalizer refuses `400` `path_normalization_failed`.
       */
      readonly status: 400 | 404;
      readonly details: 'absolute_path' | 'path_normalization_failed';
    };

function hexValue(c: number): number {
  // '0'-'9', 'A'-'F', 'a'-'f'
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function unreserved(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x2d ||
    code === 0x2e ||
    code === 0x5f ||
    code === 0x7e
  );
}

/**
 * One pass over the %-escapes: decode those `decode` accepts, keep the rest as sent.
 * One pass only, so `%252e` stays `%252e` (istio.io normalization: no double decoding).
 */
function decodeEscapes(path: string, decode: (code: number) => boolean): string {
  if (!path.includes('%')) return path;
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i >= 0 && i + 2 < path.length; i = path.indexOf('%', i + 1)) {
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) continue;
    const code = hi * 16 + lo;
    if (!decode(code)) continue;
    out += path.slice(from, i) + String.fromCharCode(code);
    from = i + 3;
    i += 2;
  }
  return from === 0 ? path : out + path.slice(from);
}

/** RFC 3986 §5.2.4 remove_dot_segments, as Envoy's `normalize_path` (Chromium's canonicalizer) does. */
export function removeDotSegments(path: string): string {
  if (!path.includes('.')) return path;
  const segments = path.split('/');
  const out: string[] = [];
  // segments[0] is '' (the path starts with '/').
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i] as string;
    const last = i === segments.length - 1;
    if (s === '.') {
      if (last) out.push('');
    } else if (s === '..') {
      out.pop();
      if (last) out.push('');
    } else out.push(s);
  }
  return '/' + out.join('/');
}

function mergeSlashes(path: string): string {
  return path.includes('//') ? path.replace(/\/{2,}/g, '/') : path;
}

/** Whether the path carries a NUL, raw or as `%00` (Envoy rejects it with 400 in every mode). */
function hasNul(path: string): boolean {
  return path.includes('\0') || path.includes('%00');
}

/**
 * Whether `url` is already normal in every mode: it starts with `/` and has no `#`,
 * `?`, `%`, `\`, `.`, NUL or `//`. Most request targets are (`/api/items/42`); one
 * scan then replaces the eight each step would make.
 */
function alreadyNormal(url: string): boolean {
  if (url.charCodeAt(0) !== 0x2f) return false;
  let prev = 0x2f;
  for (let i = 1; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (
      c === 0x23 ||
      c === 0x3f ||
      c === 0x25 ||
      c === 0x5c ||
      c === 0x2e ||
      c === 0 ||
      (c === 0x2f && prev === 0x2f)
    )
      return false;
    prev = c;
  }
  return true;
}

/**
 * Normalizes a request target the way Istio configures Envoy for
 * meshConfig `pathNormalization.normalization` (spec/security.md §4;
 * istio/networking/core/listener_builder.go):
 *
 * - `NONE`: the path as sent.
 * - `BASE` (and `DEFAULT`): one-pass decode of the unreserved escapes
 *   (`%2D %2E %30-%39 %41-%5A %5F %61-%7A %7E`), `\` → `/`, `.`/`..` resolved.
 * - `MERGE_SLASHES`: BASE, then runs of `/` merged.
 * - `DECODE_AND_MERGE_SLASHES`: `%2F`/`%5C` decoded first, then MERGE_SLASHES.
 *
 * In every mode the fragment is stripped (Istio ≥ 1.11.1, ISTIO-SECURITY-2021-008),
 * the query is split off (kept for the app, ignored by matching) and a `%00` is refused.
 */
export function normalizeTarget(url: string, mode: PathNormalization): NormalizedTarget {
  return alreadyNormal(url) ? { ok: true, path: url, query: '' } : normalizeEachStep(url, mode);
}

/** `normalizeTarget` without the shortcut for a target that is already normal. */
export function normalizeEachStep(url: string, mode: PathNormalization): NormalizedTarget {
  let target = url;
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  const q = target.indexOf('?');
  let path = q >= 0 ? target.slice(0, q) : target;
  const query = q >= 0 ? target.slice(q) : '';
  // A leading `\` is a slash once normalized; as sent (NONE) the target is malformed.
  if (!path.startsWith('/') && !(path.startsWith('\\') && mode !== 'NONE')) {
    // absolute-form (`http://host/path`): the path is what follows the authority.
    const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/]*/.exec(path);
    if (m === null)
      return {
        ok: false,
        detail: `request path ${JSON.stringify(path)} does not start with '/'`,
        status: 404,
        details: 'absolute_path',
      };
    path = path.slice(m[0].length) || '/';
  }
  if (hasNul(path))
    return { ok: false, detail: 'path contains %00', status: 400, details: 'path_normalization_failed' };
  if (mode === 'NONE') return { ok: true, path, query };
  if (mode === 'DECODE_AND_MERGE_SLASHES') {
    path = decodeEscapes(path, (c) => c === 0x2f || c === 0x5c);
  }
  path = decodeEscapes(path, unreserved);
  if (path.includes('\\')) path = path.replace(/\\/g, '/');
  path = removeDotSegments(path);
  if (mode === 'MERGE_SLASHES' || mode === 'DECODE_AND_MERGE_SLASHES') path = mergeSlashes(path);
  return { ok: true, path, query };
}
