import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import { got, type Got, type NormalizedOptions, type Response } from 'got';
import type { MeshFetchInit } from '../outbound/client.js';
import type { MeshResponse } from '../outbound/response.js';

type Fetch = (url: URL, init: MeshFetchInit) => Promise<MeshResponse>;

/** Node's `IncomingMessage.headers` shape: `set-cookie` an array, other repeats joined. */
function nodeHeaders(h: Headers): { headers: Record<string, string | string[]>; raw: string[] } {
  const headers: Record<string, string | string[]> = {};
  const raw: string[] = [];
  h.forEach((value, name) => {
    if (name === 'set-cookie') return;
    headers[name] = value;
    raw.push(name, value);
  });
  const cookies = h.getSetCookie();
  if (cookies.length > 0) {
    headers['set-cookie'] = cookies;
    for (const c of cookies) raw.push('set-cookie', c);
  }
  return { headers, raw };
}

/**
 * The mesh response as the `IncomingMessage`-like object got accepts from a
 * `beforeRequest` hook (got then reads, decompresses and parses it as a network
 * response); `meshlet` rides along on it.
 */
function responseLike(res: MeshResponse, url: URL): Response {
  const { headers, raw } = nodeHeaders(res.headers);
  // got ends the object a hook returns as if it were its request (core/index.js
  // endRequest): a body that is also writable (undici's, a PassThrough) must not be
  // handed over as it is, or its source's next chunk fails with "write after end".
  const body: Readable =
    'writable' in res.body && res.body.writable === true
      ? Readable.from(res.body, { objectMode: false })
      : res.body;
  return Object.assign(body, {
    statusCode: res.status,
    statusMessage: STATUS_CODES[res.status] ?? '',
    headers,
    rawHeaders: raw,
    trailers: {},
    httpVersion: '1.1',
    httpVersionMajor: 1,
    httpVersionMinor: 1,
    complete: true,
    url: url.toString(),
    meshlet: res.meshlet,
  }) as unknown as Response;
}

function headersOf(options: NormalizedOptions): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(options.headers)) {
    // The URL gives the authority; got's computed Host would only repeat it.
    if (value === undefined || name === 'host') continue;
    out[name] = value;
  }
  return out;
}

/**
 * `mesh.got`: got with a `beforeRequest` hook that sends each request with
 * `mesh.fetch` and hands got the mesh response, so got's API (`.json()`, hooks,
 * redirects, `responseType`) runs over Istio routing. The body is taken from the
 * normalized options (`body`, `json` and `form` are serialized by then) and cleared, so
 * got does not try to send it again. got's own retries are off: the mesh retries per
 * the route. got's `timeout.request` becomes the call's `timeout`, its `signal` the
 * call's signal; got's finer timeouts (connect, socket, ...) belong to the transport
 * and do not apply.
 */
export function createMeshGot(fetch: Fetch): Got {
  return got.extend({
    retry: { limit: 0 },
    hooks: {
      beforeRequest: [
        async (options) => {
          const url = options.url instanceof URL ? options.url : new URL(String(options.url));
          const init: {
            method: string;
            headers: Record<string, string | string[]>;
            body?: MeshFetchInit['body'];
            timeout?: number;
            signal?: AbortSignal;
            ca?: string | Buffer;
          } = { method: options.method, headers: headersOf(options) };
          const body = options.body;
          if (typeof body === 'string' || Buffer.isBuffer(body) || body instanceof Uint8Array) {
            init.body = body;
          } else if (body !== undefined && typeof (body as Readable).pipe === 'function') {
            init.body = body as Readable;
          }
          options.body = undefined;
          if (options.timeout.request !== undefined) init.timeout = options.timeout.request;
          if (options.signal !== undefined) init.signal = options.signal;
          // The application's own TLS trust, for an https URL the sidecar passes through.
          const ca = options.https.certificateAuthority;
          if (ca !== undefined) init.ca = Array.isArray(ca) ? ca.map(String).join('\n') : ca;
          return responseLike(await fetch(url, init), url);
        },
      ],
    },
  });
}
