import { afterEach } from 'vitest';
import { createJwtAuthenticator } from '../../../src/inbound/jwt/authenticator.js';
import type { JwtAuthenticator } from '../../../src/inbound/jwt/types.js';
import { createManualClock } from '../../../src/runtime/clock.js';

/** The time these tests' tokens are judged at: 2025-01-01T00:00:00Z. */
export const NOW_MS = Date.UTC(2025, 0, 1);

/**
 * A fresh authenticator per call on a manual clock at {@link NOW_MS}, closed after each test
 * (its JWKS refresh timers with it).
 */
export function useAuthenticator(): () => JwtAuthenticator {
  let auth: JwtAuthenticator | null = null;
  afterEach(() => {
    auth?.close();
    auth = null;
  });
  return () => {
    auth = createJwtAuthenticator({ clock: createManualClock(NOW_MS) });
    return auth;
  };
}
