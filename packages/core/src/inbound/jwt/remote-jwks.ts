import type { ReadableStream, ReadableStreamReadResult } from 'node:stream/web';
import type { Clock } from '../../runtime/clock.js';
import { MeshletError } from '../../errors/meshlet-error.js';
import { parseJwks } from './jwks.js';
import type { KeySet } from './jwks.js';

/** The keys an issuer has right now, or why it has none (every token of it is then refused). */
export type KeyState =
  | { readonly kind: 'keys'; readonly keys: KeySet }
  /** Never fetched successfully: istiod inlines PublicOnlyJwks instead (jwks_resolver.go `BuildLocalJwks`). */
  | { readonly kind: 'unavailable' }
  /** Fetched, but no usable key in it: Envoy's `Jwks doesn't have any valid public key`. */
  | { readonly kind: 'invalid' };

/** Where the keys come from: a `jwksUri`, or OIDC discovery from the issuer. */
export interface RemoteSource {
  readonly jwksUri: string | null;
  readonly issuer: string;
  readonly timeoutMs: number;
}

export interface RemoteJwksOptions {
  readonly clock: Clock;
  readonly fetch: typeof fetch;
  readonly refreshIntervalMs: number;
  readonly retryAfterFailureMs: number;
  readonly maxBodyBytes: number;
  readonly onError: (error: MeshletError) => void;
}

/** `<issuer>/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4; istiod jwks_resolver.go). */
export const OPENID_DISCOVERY_SUFFIX = '/.well-known/openid-configuration';

/** istiod drops keys not refreshed successfully for this long (jwks_resolver.go `JwtPubKeyEvictionDuration`). */
const KEY_EVICTION_MS = 7 * 24 * 3600_000;

const idOf = (source: RemoteSource): string => source.jwksUri ?? `discovery:${source.issuer}`;

const UNAVAILABLE: KeyState = Object.freeze({ kind: 'unavailable' });
const INVALID: KeyState = Object.freeze({ kind: 'invalid' });

class Entry {
  state: KeyState = UNAVAILABLE;
  /** The JWKS document the keys came from, re-serialized, to tell a refresh that changed nothing. */
  text = '';
  fetchedAt = -Infinity;
  failedAt = -Infinity;
  inflight: Promise<void> | null = null;
}

/**
 * Remote JWKS, fetched and cached as istiod's JwksResolver does (pilot/pkg/model/jwks_resolver.go):
 * keys are refreshed every `refreshIntervalMs` (istiod `PILOT_JWT_PUB_KEY_REFRESH_INTERVAL`,
 * 20 min) and retried `retryAfterFailureMs` (1 min) after a failure; a failed refresh keeps
 * the last good keys; with no good keys ever, the issuer fails closed. Refresh is lazy (on the
 * first request after the interval) so no timer runs while nothing is asked; requests that
 * arrive during a fetch share it.
 */
export class RemoteJwks {
  readonly #opts: RemoteJwksOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #controllers = new Set<AbortController>();
  #closed = false;

  constructor(opts: RemoteJwksOptions) {
    this.#opts = opts;
  }

  /**
   * The keys {@link keys} would answer right now without fetching, or null when it would
   * fetch (or wait for a fetch). A verification remembered with other keys than these, or
   * while a fetch is due, must be redone: istiod pushes changed keys, and Envoy's token cache
   * goes with the old filter config.
   */
  current(source: RemoteSource): KeyState | null {
    const entry = this.#entries.get(idOf(source));
    if (entry === undefined || entry.inflight !== null) return null;
    return this.#due(entry) ? null : entry.state;
  }

  /** The keys for a source, fetching (bounded by the rule's timeout) when missing or stale. */
  async keys(source: RemoteSource): Promise<KeyState> {
    const id = idOf(source);
    let entry = this.#entries.get(id);
    if (entry === undefined) {
      entry = new Entry();
      this.#entries.set(id, entry);
    }
    if (entry.inflight !== null) {
      await entry.inflight;
      return entry.state;
    }
    if (!this.#due(entry)) return entry.state;
    const target = entry;
    target.inflight = this.#refresh(source, target).finally(() => {
      target.inflight = null;
    });
    await target.inflight;
    return target.state;
  }

  #due(entry: Entry): boolean {
    if (this.#closed) return false;
    const now = this.#opts.clock.now();
    const fresh = entry.state.kind === 'keys' && now - entry.fetchedAt < this.#opts.refreshIntervalMs;
    const backingOff = now - entry.failedAt < this.#opts.retryAfterFailureMs;
    return !fresh && !backingOff;
  }

  /** Aborts fetches under way and forgets every key. */
  close(): void {
    this.#closed = true;
    for (const c of this.#controllers) c.abort(new Error('JWT authenticator closed'));
    this.#controllers.clear();
    this.#entries.clear();
  }

  async #refresh(source: RemoteSource, entry: Entry): Promise<void> {
    let uri = source.jwksUri;
    try {
      if (uri === null) {
        const discovery = this.#discoveryUrl(source.issuer);
        const doc = await this.#getJson(discovery, source.timeoutMs);
        const jwksUri = (doc as { jwks_uri?: unknown }).jwks_uri;
        if (typeof jwksUri !== 'string' || !/^https?:\/\//i.test(jwksUri)) {
          throw new Error(`${discovery} has no http(s) "jwks_uri"`);
        }
        uri = jwksUri;
      }
      const doc = await this.#getJson(uri, source.timeoutMs);
      const text = JSON.stringify(doc);
      if (entry.state.kind === 'keys' && text === entry.text) {
        // The same keys: istiod pushes nothing, so Envoy's token cache stays (and so does ours).
        entry.fetchedAt = this.#opts.clock.now();
        entry.failedAt = -Infinity;
        return;
      }
      const keys = parseJwks(doc);
      if (keys === null) {
        entry.failedAt = this.#opts.clock.now();
        // A JSON answer replaces good keys too: istiod's refresh stores any 2xx body and
        // pushes it when it parses and differs (jwks_resolver.go `refresh`), and Envoy then
        // has no valid key. (A body that is not JSON is never pushed: see the catch below.)
        entry.state = INVALID;
        this.#report(source, uri, 'the response is not a JWKS with a usable public key');
        return;
      }
      entry.state = Object.freeze({ kind: 'keys', keys });
      entry.text = text;
      entry.fetchedAt = this.#opts.clock.now();
      entry.failedAt = -Infinity;
    } catch (err) {
      const now = this.#opts.clock.now();
      entry.failedAt = now;
      // istiod evicts keys it has not refreshed for 7 days (`JwtPubKeyEvictionDuration`);
      // fetching them again fails here, so it inlines PublicOnlyJwks.
      if (entry.state.kind === 'keys' && now - entry.fetchedAt >= KEY_EVICTION_MS) entry.state = UNAVAILABLE;
      this.#report(source, uri, err instanceof Error ? err.message : String(err));
    }
  }

  #discoveryUrl(issuer: string): string {
    return `${issuer.endsWith('/') ? issuer.slice(0, -1) : issuer}${OPENID_DISCOVERY_SUFFIX}`;
  }

  /**
   * GET with a deadline on the injected clock and a cap on the body; any defect throws. The
   * deadline races the whole exchange, so even a fetch that ignores its signal cannot hang us.
   */
  async #getJson(url: string, timeoutMs: number): Promise<unknown> {
    const controller = new AbortController();
    this.#controllers.add(controller);
    const deadline = new Promise<never>((_, reject) => {
      controller.signal.addEventListener(
        'abort',
        () => {
          const reason: unknown = controller.signal.reason;
          reject(new Error(`${url}: ${reason instanceof Error ? reason.message : 'aborted'}`));
        },
        { once: true },
      );
    });
    const timer = this.#opts.clock.setTimeout(
      () => controller.abort(new Error(`timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const work = this.#fetchJson(url, controller.signal);
    // Whichever loses the race must not surface later as an unhandled rejection.
    work.catch(() => undefined);
    deadline.catch(() => undefined);
    try {
      return await Promise.race([work, deadline]);
    } finally {
      this.#opts.clock.clearTimeout(timer);
      this.#controllers.delete(controller);
    }
  }

  async #fetchJson(url: string, signal: AbortSignal): Promise<unknown> {
    const res = await this.#opts.fetch(url, { signal, headers: { accept: 'application/json' } });
    if (res.status < 200 || res.status >= 300) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`${url} answered HTTP ${res.status}`);
    }
    const text = await readCapped(res, this.#opts.maxBodyBytes, signal);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new Error(`${url} did not return JSON`);
    }
  }

  #report(source: RemoteSource, uri: string | null, reason: string): void {
    if (this.#closed) return;
    const error = new MeshletError(
      'MESHLET_ERR_JWT_JWKS_FETCH',
      `JWKS for issuer "${source.issuer}" could not be fetched (${reason}); its tokens are rejected until a fetch succeeds`,
      { issuer: source.issuer, jwksUri: uri, reason },
    );
    try {
      this.#opts.onError(error);
    } catch {
      // A reporting hook must never turn a key failure into a request failure of another kind.
    }
  }
}

async function readCapped(res: Response, maxBytes: number, signal: AbortSignal): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`body of ${declared} bytes is over the ${maxBytes} byte limit`);
  }
  if (res.body === null) return '';
  // undici's web stream, typed through node:stream/web (core has no DOM lib).
  const reader = (res.body as unknown as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
    const chunk: ReadableStreamReadResult<Uint8Array> = await reader.read();
    if (chunk.done) break;
    const value = chunk.value;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`body is over the ${maxBytes} byte limit`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
