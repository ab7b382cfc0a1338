import type { Clock } from '../../runtime/clock.js';
import { MeshletError } from '../../errors/meshlet-error.js';
import { getJson, type JwksHttp } from './jwks-http.js';
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
  /** istiod `PILOT_JWT_PUB_KEY_REFRESH_INTERVAL` (20 min): the refresh period while fetches succeed. */
  readonly refreshIntervalMs: number;
  /** istiod `JwtPubKeyRefreshIntervalOnFailure` (1 min): the first interval after a failed refresh. */
  readonly retryAfterFailureMs: number;
  /** istiod `JwtPubKeyRetryInterval` (1 s): between the attempts of one fetch. */
  readonly retryIntervalMs: number;
  readonly maxBodyBytes: number;
  readonly onError: (error: MeshletError) => void;
}

/** `<issuer>/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4; istiod jwks_resolver.go). */
export const OPENID_DISCOVERY_SUFFIX = '/.well-known/openid-configuration';

/**
 * istiod drops keys not refreshed successfully, or not asked for, for this long
 * (jwks_resolver.go `JwtPubKeyEvictionDuration`).
 */
const KEY_EVICTION_MS = 7 * 24 * 3600_000;
/** The longest interval the failure backoff reaches (`JwtPubKeyRefreshIntervalOnFailureResetThreshold`). */
const MAX_FAILURE_INTERVAL_MS = 60 * 60_000;
/** Further attempts of a background fetch after its first (`networkFetchRetryCountOnRefreshFlow`). */
const RETRIES = 7;

const idOf = (source: RemoteSource): string => source.jwksUri ?? `discovery:${source.issuer}`;

const UNAVAILABLE: KeyState = Object.freeze({ kind: 'unavailable' });
const INVALID: KeyState = Object.freeze({ kind: 'invalid' });

class Entry {
  state: KeyState = UNAVAILABLE;
  /** The JWKS document the keys came from, re-serialized, to tell a refresh that changed nothing. */
  text = '';
  /** Last successful fetch. */
  fetchedAt = -Infinity;
  /** Last time a request asked for these keys. */
  usedAt: number;
  /** Without keys and with nothing scheduled, a request may fetch from this time on. */
  retryAt = -Infinity;
  /** The interval that followed the last failed refresh; 0 after a success. */
  failureIntervalMs = 0;
  /** The first attempt of a fetch under way: requests wait for it. */
  inflight: Promise<void> | null = null;
  /** A fetch (its attempts and retries) is under way. */
  busy = false;
  /** The scheduled refresh or retry attempt. */
  timer: unknown = null;

  constructor(now: number) {
    this.usedAt = now;
  }
}

/**
 * Remote JWKS, fetched and cached as istiod's JwksResolver does (pilot/pkg/model/jwks_resolver.go),
 * on the injected clock:
 *
 * - Keys not cached yet are fetched when a request first needs them (istiod: when it builds
 *   the config), one attempt bounded by the rule's timeout; requests wait for it. When it
 *   fails, the issuer fails closed and the fetch is retried at once in the background,
 *   attempts `retryIntervalMs` (1 s) apart while the rule's timeout allows, 8 at most
 *   (`GetPublicKey` → `jwksuriChannel` → `refresh`, `getRemoteContentWithRetry`). If all fail,
 *   the next request a minute on fetches again (istiod: its next push).
 * - Cached keys are refreshed every `refreshIntervalMs` (20 min) on a timer, with the same
 *   background attempts; a failed refresh keeps the keys and is tried again 1 min later, then
 *   2, 4, ... up to 60 min after each further failure, and 20 min after a success
 *   (`refresher`, `refreshCache`). istiod keeps one such interval for all issuers; here each
 *   issuer has its own.
 * - Keys not refreshed successfully for 7 days are dropped (the issuer fails closed until a
 *   fetch succeeds); keys no request asked for in 7 days are forgotten.
 */
export class RemoteJwks {
  readonly #opts: RemoteJwksOptions;
  readonly #http: JwksHttp;
  readonly #entries = new Map<string, Entry>();
  readonly #controllers = new Set<AbortController>();
  #closed = false;

  constructor(opts: RemoteJwksOptions) {
    this.#opts = opts;
    this.#http = {
      clock: opts.clock,
      fetch: opts.fetch,
      maxBodyBytes: opts.maxBodyBytes,
      controllers: this.#controllers,
    };
  }

  /**
   * The keys {@link keys} would answer right now without fetching, or null when it would
   * fetch (or wait for a fetch). A verification remembered with other keys than these must be
   * redone: istiod pushes changed keys, and Envoy's token cache goes with the old filter config.
   */
  current(source: RemoteSource): KeyState | null {
    const entry = this.#entries.get(idOf(source));
    if (entry === undefined) return null;
    // Asked for, though the answer may come from the token cache: the keys are in use.
    entry.usedAt = this.#opts.clock.now();
    if (entry.inflight !== null || this.#mayFetch(entry)) return null;
    return entry.state;
  }

  /** The keys for a source, fetching them (bounded by the rule's timeout) when none are cached. */
  async keys(source: RemoteSource): Promise<KeyState> {
    const id = idOf(source);
    const now = this.#opts.clock.now();
    let entry = this.#entries.get(id);
    if (entry === undefined) {
      entry = new Entry(now);
      this.#entries.set(id, entry);
    }
    entry.usedAt = now;
    if (entry.inflight === null && this.#mayFetch(entry)) this.#fetchFirst(source, entry);
    if (entry.inflight !== null) await entry.inflight;
    return entry.state;
  }

  /** Aborts fetches under way, stops every timer, and forgets every key. */
  close(): void {
    this.#closed = true;
    for (const c of this.#controllers) c.abort(new Error('JWT authenticator closed'));
    this.#controllers.clear();
    for (const e of this.#entries.values()) this.#opts.clock.clearTimeout(e.timer);
    this.#entries.clear();
  }

  #mayFetch(entry: Entry): boolean {
    return (
      !this.#closed &&
      entry.state === UNAVAILABLE &&
      !entry.busy &&
      entry.timer === null &&
      this.#opts.clock.now() >= entry.retryAt
    );
  }

  /** istiod `GetPublicKey` with nothing cached: one attempt, then the background retries. */
  #fetchFirst(source: RemoteSource, entry: Entry): void {
    entry.busy = true;
    const deadline = this.#opts.clock.now() + source.timeoutMs;
    this.#track(
      entry,
      this.#attempts(source, entry, deadline, 0, true, (ok) => {
        if (ok) this.#succeeded(source, entry);
        else
          this.#later(entry, 0, () => {
            const retryDeadline = this.#opts.clock.now() + source.timeoutMs;
            void this.#attempts(source, entry, retryDeadline, RETRIES, false, (retried) => {
              if (retried) this.#succeeded(source, entry);
              else {
                // istiod forgets the entry; its next push (here: a request a minute on) fetches again.
                entry.busy = false;
                entry.retryAt = this.#opts.clock.now() + this.#opts.retryAfterFailureMs;
              }
            });
          });
      }),
    );
  }

  /** The timer's refresh of cached keys (jwks_resolver.go `refresh`). */
  #refresh(source: RemoteSource, entry: Entry): void {
    const now = this.#opts.clock.now();
    const id = idOf(source);
    if (now - entry.usedAt >= KEY_EVICTION_MS) {
      if (this.#entries.get(id) === entry) this.#entries.delete(id);
      return;
    }
    if (now - entry.fetchedAt >= KEY_EVICTION_MS) {
      // Evicted: the next request fetches anew, and fails closed if that fails.
      entry.state = UNAVAILABLE;
      entry.text = '';
      entry.failureIntervalMs = 0;
      entry.retryAt = -Infinity;
      return;
    }
    entry.busy = true;
    this.#track(
      entry,
      this.#attempts(source, entry, now + source.timeoutMs, RETRIES, false, (ok) => {
        if (ok) {
          this.#succeeded(source, entry);
          return;
        }
        // jwks_resolver.go `refreshCache`: 1 min after a first failure, then doubling, capped.
        const prev = entry.failureIntervalMs;
        entry.failureIntervalMs =
          prev === 0 ? this.#opts.retryAfterFailureMs : Math.min(prev * 2, MAX_FAILURE_INTERVAL_MS);
        entry.busy = false;
        this.#later(entry, entry.failureIntervalMs, () => this.#refresh(source, entry));
      }),
    );
  }

  #succeeded(source: RemoteSource, entry: Entry): void {
    entry.busy = false;
    entry.failureIntervalMs = 0;
    this.#later(entry, this.#opts.refreshIntervalMs, () => this.#refresh(source, entry));
  }

  /** Requests wait for `first` (the fetch's first attempt) while it runs. */
  #track(entry: Entry, first: Promise<void>): void {
    const p = first.finally(() => {
      if (entry.inflight === p) entry.inflight = null;
    });
    entry.inflight = p;
  }

  #later(entry: Entry, ms: number, fn: () => void): void {
    if (this.#closed) return;
    entry.timer = this.#opts.clock.setTimeout(() => {
      entry.timer = null;
      if (!this.#closed) fn();
    }, ms);
  }

  /**
   * One attempt now, then up to `retries` more, `retryIntervalMs` after each failure, until
   * one succeeds; all share the deadline (istiod's one context for `getRemoteContentWithRetry`),
   * so an attempt past it fails without a request, though the waits still run. `done` gets
   * whether one succeeded. Resolves when the first attempt ends.
   */
  async #attempts(
    source: RemoteSource,
    entry: Entry,
    deadline: number,
    retries: number,
    firstFetch: boolean,
    done: (ok: boolean) => void,
  ): Promise<void> {
    const ok =
      this.#opts.clock.now() < deadline && (await this.#attempt(source, entry, deadline, firstFetch));
    if (this.#closed) return;
    if (ok || retries === 0) {
      done(ok);
      return;
    }
    this.#later(entry, this.#opts.retryIntervalMs, () => {
      void this.#attempts(source, entry, deadline, retries - 1, false, done);
    });
  }

  /** One GET (after discovery when there is no `jwksUri`); whether it gave a JWKS to use. */
  async #attempt(
    source: RemoteSource,
    entry: Entry,
    deadline: number,
    firstFetch: boolean,
  ): Promise<boolean> {
    let uri = source.jwksUri;
    try {
      const remaining = (): number => {
        const ms = deadline - this.#opts.clock.now();
        if (ms <= 0) throw new Error(`timed out after ${source.timeoutMs} ms`);
        return ms;
      };
      if (uri === null) {
        const discovery = this.#discoveryUrl(source.issuer);
        const doc = await getJson(this.#http, discovery, remaining());
        const jwksUri = (doc as { jwks_uri?: unknown }).jwks_uri;
        if (typeof jwksUri !== 'string' || !/^https?:\/\//i.test(jwksUri)) {
          throw new Error(`${discovery} has no http(s) "jwks_uri"`);
        }
        uri = jwksUri;
      }
      const doc = await getJson(this.#http, uri, remaining());
      // istiod's first fetch takes only a JSON object with a "keys" array (jwks_resolver.go
      // `validateJWKSFormat`); its refreshes keep any JSON answer.
      if (firstFetch && !hasKeysArray(doc)) throw new Error('the response is not a JWKS (no "keys" array)');
      if (this.#closed) return false;
      const now = this.#opts.clock.now();
      const text = JSON.stringify(doc);
      entry.fetchedAt = now;
      // The same keys: istiod pushes nothing, so Envoy's token cache stays (and so does ours).
      if (entry.state.kind === 'keys' && text === entry.text) return true;
      entry.text = text;
      const keys = parseJwks(doc);
      if (keys === null) {
        // A JSON answer replaces good keys too: istiod stores it and pushes it when it differs
        // (jwks_resolver.go `refresh`), and Envoy then has no valid key.
        entry.state = INVALID;
        this.#report(source, uri, 'the response is not a JWKS with a usable public key');
      } else entry.state = Object.freeze({ kind: 'keys', keys });
      return true;
    } catch (err) {
      this.#report(source, uri, err instanceof Error ? err.message : String(err));
      return false;
    }
  }

  #discoveryUrl(issuer: string): string {
    return `${issuer.endsWith('/') ? issuer.slice(0, -1) : issuer}${OPENID_DISCOVERY_SUFFIX}`;
  }

  #report(source: RemoteSource, uri: string | null, reason: string): void {
    if (this.#closed) return;
    const kept = this.#entries.get(idOf(source))?.state.kind === 'keys';
    const error = new MeshletError(
      'MESHLET_ERR_JWT_JWKS_FETCH',
      `JWKS for issuer "${source.issuer}" could not be fetched (${reason}); ${kept ? 'the keys fetched before stay in use' : 'its tokens are rejected until a fetch succeeds'}`,
      { issuer: source.issuer, jwksUri: uri, reason },
    );
    try {
      this.#opts.onError(error);
    } catch {
      // A reporting hook must never turn a key failure into a request failure of another kind.
    }
  }
}

function hasKeysArray(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && Array.isArray((doc as { keys?: unknown }).keys);
}
