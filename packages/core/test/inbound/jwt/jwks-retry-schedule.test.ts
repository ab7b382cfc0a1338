import { afterEach, describe, expect, it } from 'vitest';
import type { MeshletError } from '../../../src/errors/meshlet-error.js';
import { createJwtAuthenticator } from '../../../src/inbound/jwt/authenticator.js';
import type { JwtAuthenticator } from '../../../src/inbound/jwt/types.js';
import { createManualClock, type ManualClock } from '../../../src/runtime/clock.js';
import {
  bearer,
  DEMO_JWT,
  GROUPS_SCOPE_JWT,
  request,
  requestAuthentication,
  rulesFrom,
  SAMPLE_ISSUER,
  SAMPLE_JWKS,
} from './helpers.js';
import { useJwksServer } from './jwks-server.js';

// istiod's JwksResolver (pilot/pkg/model/jwks_resolver.go), on an injected clock against a
// real JWKS server on loopback:
// - a first fetch (GetPublicKey) makes one attempt; when it fails the issuer fails closed and
//   the refresher retries at once (jwksuriChannel → refresh(true)): getRemoteContentWithRetry
//   with networkFetchRetryCountOnRefreshFlow = 7, JwtPubKeyRetryInterval = 1 s between
//   attempts, all under one context of the rule's timeout (5 s by default);
// - cached keys are refreshed every PILOT_JWT_PUB_KEY_REFRESH_INTERVAL (20 min) the same way;
//   after a failed refresh the next comes JwtPubKeyRefreshIntervalOnFailure (1 min) later,
//   then the interval doubles, capped at 60 min (refreshCache), back to 20 min on success;
//   a failed refresh keeps the keys.

const MIN = 60_000;
const FETCH_FAILED = 'Jwt verification fails';

let up = true;
let clock: ManualClock;
/** The clock time of each request the JWKS server got. */
let hits: number[] = [];
const errors: MeshletError[] = [];
let auth: JwtAuthenticator | null = null;

afterEach(() => {
  auth?.close();
  auth = null;
  up = true;
  hits = [];
  errors.length = 0;
});

const jwksUri = useJwksServer(() => {
  hits.push(clock.now());
  return up ? { status: 200, body: SAMPLE_JWKS } : { status: 503, body: 'down' };
});

async function setup(ruleExtra = '') {
  const uri = await jwksUri();
  clock = createManualClock(Date.UTC(2025, 0, 1));
  auth = createJwtAuthenticator({ clock, onJwksError: (e) => errors.push(e) });
  const rules = rulesFrom(
    requestAuthentication(`  - issuer: ${SAMPLE_ISSUER}\n    jwksUri: ${uri}\n${ruleExtra}`),
  );
  const a = auth;
  return {
    t0: clock.now(),
    check: (token = DEMO_JWT) => a.authenticate(rules, request({ headers: bearer(token) })),
  };
}

/**
 * Lets a fetch the clock started reach the loopback server and come back: waits until neither
 * the server's requests nor the reported failures change for 25 ms.
 */
async function io(): Promise<void> {
  let seen = '';
  while (seen !== `${hits.length}/${errors.length}`) {
    seen = `${hits.length}/${errors.length}`;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Moves the clock to `at` (ms), then lets what that started finish. */
async function advanceTo(at: number): Promise<void> {
  await clock.advance(at - clock.now());
  await io();
}

/** Runs one fetch's attempts from `start`: 8 of them, 1 s apart. */
async function runAttempts(start: number): Promise<void> {
  for (let k = 0; k < 8; k++) await advanceTo(start + k * 1000);
}

const seconds = (from: number, list: number[]) => list.map((t) => (t - from) / 1000);

describe('a JWKS that cannot be fetched the first time', () => {
  it('is retried in the background each second within the rule timeout, and used once it answers', async () => {
    const { t0, check } = await setup();
    up = false;
    expect(await check()).toMatchObject({ kind: 'deny', status: 401, body: FETCH_FAILED });
    expect(seconds(t0, hits)).toEqual([0]);
    await advanceTo(t0);
    await advanceTo(t0 + 1000);
    expect(seconds(t0, hits)).toEqual([0, 0, 1]);
    expect(await check()).toMatchObject({ kind: 'deny', body: FETCH_FAILED });
    up = true;
    await advanceTo(t0 + 2000);
    expect(seconds(t0, hits)).toEqual([0, 0, 1, 2]);
    // Back 2 s after it failed, not a minute: no request had to come.
    expect((await check()).kind).toBe('ok');
    expect(hits).toHaveLength(4);
  });

  it('stops requesting at the rule timeout, and is fetched again by the first request a minute after', async () => {
    const { t0, check } = await setup('    timeout: 3s\n');
    up = false;
    await check();
    await runAttempts(t0);
    // 8 attempts 1 s apart; those at 3 s and later are past the 3 s context and send nothing.
    expect(seconds(t0, hits)).toEqual([0, 0, 1, 2]);
    expect(errors).toHaveLength(4);
    up = true;
    await advanceTo(t0 + 7000 + MIN - 1);
    expect(await check()).toMatchObject({ kind: 'deny', body: FETCH_FAILED });
    expect(hits).toHaveLength(4);
    await advanceTo(t0 + 7000 + MIN);
    expect((await check()).kind).toBe('ok');
    expect(seconds(t0, hits)).toEqual([0, 0, 1, 2, 67]);
  });
});

describe('cached keys whose refresh fails', () => {
  it('stay in use while refreshes back off 1, 2, 4, 8 min, and the schedule resets on success', async () => {
    const { t0, check } = await setup();
    expect((await check()).kind).toBe('ok');
    up = false;
    // Each failed refresh: attempts at +0..4 s (5 s timeout) and nothing after, done at +7 s.
    const starts = [20 * MIN];
    for (const interval of [1, 2, 4, 8]) starts.push(starts[starts.length - 1]! + 7000 + interval * MIN);
    for (const start of starts.slice(0, 4)) {
      await runAttempts(t0 + start);
      // The keys fetched before still verify (a token not cached, so they are used).
      expect((await check(GROUPS_SCOPE_JWT)).kind).toBe('ok');
    }
    const attemptsFrom = (start: number) => [0, 1, 2, 3, 4].map((k) => start / 1000 + k);
    expect(seconds(t0, hits)).toEqual([0, ...starts.slice(0, 4).flatMap(attemptsFrom)]);
    // A minute before the fifth refresh nothing is asked; at it, the server is back.
    await advanceTo(t0 + starts[4]! - MIN);
    expect(hits).toHaveLength(21);
    up = true;
    await advanceTo(t0 + starts[4]!);
    expect(seconds(t0, hits.slice(21))).toEqual([starts[4]! / 1000]);
    // Then every 20 minutes again.
    await advanceTo(t0 + starts[4]! + 20 * MIN - 1);
    expect(hits).toHaveLength(22);
    await advanceTo(t0 + starts[4]! + 20 * MIN);
    expect(hits).toHaveLength(23);
  });

  it('caps the failure interval at 60 minutes', async () => {
    const { t0, check } = await setup();
    expect((await check()).kind).toBe('ok');
    up = false;
    let start = 20 * MIN;
    const intervals = [1, 2, 4, 8, 16, 32, 60, 60];
    for (const interval of intervals) {
      await runAttempts(t0 + start);
      start += 7000 + interval * MIN;
    }
    const before = hits.length;
    await advanceTo(t0 + start - 1);
    expect(hits).toHaveLength(before);
    await advanceTo(t0 + start);
    expect(seconds(t0, hits.slice(before))).toEqual([start / 1000]);
  });
});
