import { isIP } from 'node:net';
import { MeshletError } from '../errors/meshlet-error.js';
import type { RequestBodyInput } from './request-body.js';

/** Request headers as the pipeline keeps them: lower-case names. */
export type HeaderRecord = Record<string, string | readonly string[]>;

/** `mesh.fetch(url, init)` options (DESIGN.md "Shapes"). */
export interface MeshFetchInit {
  readonly method?: string;
  readonly headers?: Headers | Readonly<Record<string, string | number | readonly string[] | undefined>>;
  readonly body?: RequestBodyInput | null;
  /** The caller's own limit in ms; exceeding it rejects with `MESHLET_ERR_OUTBOUND_TIMEOUT`. */
  readonly timeout?: number;
  /** Aborting rejects the call with the signal's reason, as `fetch` does. */
  readonly signal?: AbortSignal | null;
  /**
   * PEM certificate authorities the application's own TLS trusts on an https URL that the
   * sidecar passes through rather than originating TLS itself (a TLS or HTTPS service port,
   * a host outside the registry): the server's name is checked against the URL's host.
   * Default: Node's roots. A call the mesh originates TLS for (DestinationRule `tls`, Istio
   * mTLS) goes over plain http and uses the DestinationRule's trust instead.
   */
  readonly ca?: string | Buffer;
}

/** A validated target: scheme, authority and the port the client called. */
export interface Target {
  readonly url: URL;
  readonly scheme: 'http' | 'https';
  /** `host[:port]` as the client addresses it. */
  readonly authority: string;
  readonly hostname: string;
  readonly port: number;
  /** Path with the query string. */
  readonly path: string;
}

/** Targets of recent URL strings: a service calls the same few URLs over and over. */
const targets = new Map<string, Target>();
const MAX_TARGETS = 1024;

/**
 * Parses and checks a call's URL: an absolute http(s) URL with a host. A string seen
 * recently gets the same frozen target (and URL object) as before: parsing a URL costs
 * more than the rest of routing.
 * @throws MeshletError `MESHLET_ERR_OUTBOUND_URL` / `MESHLET_ERR_OUTBOUND_SCHEME`
 */
export function parseTarget(input: string | URL): Target {
  if (typeof input === 'string') {
    const known = targets.get(input);
    if (known !== undefined) return known;
    const t = checkTarget(input);
    if (targets.size >= MAX_TARGETS) targets.clear();
    targets.set(input, t);
    return t;
  }
  return checkTarget(input);
}

function checkTarget(input: string | URL): Target {
  let url: URL;
  if (input instanceof URL) url = input;
  else if (typeof input === 'string') {
    try {
      url = new URL(input);
    } catch (cause) {
      throw new MeshletError(
        'MESHLET_ERR_OUTBOUND_URL',
        `not an absolute URL: ${JSON.stringify(input)}`,
        { url: input },
        { cause },
      );
    }
  } else {
    throw new MeshletError('MESHLET_ERR_OUTBOUND_URL', 'url must be a string or a URL', {
      url: String(input),
    });
  }
  const scheme = url.protocol === 'http:' ? 'http' : url.protocol === 'https:' ? 'https' : null;
  if (scheme === null) {
    throw new MeshletError(
      'MESHLET_ERR_OUTBOUND_SCHEME',
      `unsupported scheme ${JSON.stringify(url.protocol)} in ${url.href}: use http: or https:`,
      { url: url.href, scheme: url.protocol },
    );
  }
  if (url.hostname === '') {
    throw new MeshletError('MESHLET_ERR_OUTBOUND_URL', `URL has no host: ${url.href}`, { url: url.href });
  }
  return Object.freeze({
    url,
    scheme,
    authority: url.host,
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port !== '' ? Number(url.port) : scheme === 'https' ? 443 : 80,
    path: url.pathname + url.search,
  });
}

/** Copies caller headers into a fresh record with lower-case names. */
export function normalizeHeaders(input: MeshFetchInit['headers']): HeaderRecord {
  const out: HeaderRecord = {};
  if (input === undefined || input === null) return out;
  if (typeof (input as Headers).forEach === 'function' && typeof (input as Headers).get === 'function') {
    const h = input as Headers;
    h.forEach((value, name) => {
      if (name !== 'set-cookie') out[name] = value;
    });
    const cookies = h.getSetCookie();
    if (cookies.length > 0) out['set-cookie'] = cookies;
    return out;
  }
  for (const key of Object.keys(input)) {
    const v = (input as Record<string, string | number | readonly string[] | undefined>)[key];
    if (v === undefined) continue;
    const name = key.toLowerCase();
    const value = typeof v === 'number' ? String(v) : v;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else
      out[name] = [
        ...(typeof prev === 'string' ? [prev] : prev),
        ...(typeof value === 'string' ? [value] : value),
      ];
  }
  return out;
}

/**
 * A copy of a header record. A loop rather than `{ ...h }`: V8 (Node 20) copies these
 * dynamically built records several times slower with spread syntax, and the pipeline
 * copies headers twice per call.
 */
export function copyHeaders(h: Readonly<HeaderRecord>): HeaderRecord {
  const out: HeaderRecord = {};
  for (const name of Object.keys(h)) out[name] = h[name] as string | readonly string[];
  return out;
}

/** The first value of a header. */
export function headerValue(h: Readonly<HeaderRecord>, name: string): string | undefined {
  const v = h[name];
  return v === undefined ? undefined : typeof v === 'string' ? v : v[0];
}

/** The server name an https client sends for `hostname`: none for an address (RFC 6066 §3). */
export function sniOf(hostname: string): string | null {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) === 0 ? bare : null;
}
