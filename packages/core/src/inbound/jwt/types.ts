import type { JwtRulePlan } from '../../compile/inbound-types.js';
import type { InboundRequest } from '../engine-types.js';

/** The result of RequestAuthentication for one request (spec/security.md §2). */
export type JwtResult =
  /**
   * No token in any location a rule reads: passes, with no principal. `removeHeaders`: the
   * rules' output headers, which Envoy strips from every request it checks, token or not.
   */
  | { readonly kind: 'none'; readonly removeHeaders?: readonly string[] }
  | {
      readonly kind: 'ok';
      /** `iss/sub` (absent `sub` → no principal string can match; still authenticated). */
      readonly principal: string | null;
      readonly claims: Readonly<Record<string, unknown>>;
      readonly issuer: string;
      /** Request headers to remove (token locations, unless forwardOriginalToken). */
      readonly removeHeaders: readonly string[];
      /** Query parameters to remove from the URL (a `fromParams` token, unless forwardOriginalToken). */
      readonly removeParams?: readonly string[];
      /**
       * outputPayloadToHeader / outputClaimToHeaders, as the application reads them: a header
       * Envoy adds several lines of (several good tokens, or several entries naming it) is
       * joined as Node's parser joins repeats (`, `; `; ` for Cookie; the first line for the
       * names Node keeps once).
       */
      readonly setHeaders: Readonly<Record<string, string>>;
      /**
       * The header lines themselves, in the order Envoy adds them for each name, when a
       * header has several (authorization matches each on its own); absent: `setHeaders`,
       * one line each.
       */
      readonly outputLines?: readonly (readonly [name: string, value: string])[];
    }
  /** 401 with jwt_verify_lib's text and `WWW-Authenticate`, or 403 for audiences. */
  | {
      readonly kind: 'deny';
      readonly status: 401 | 403;
      readonly body: string;
      readonly headers: Readonly<Record<string, string>>;
    };

export interface JwtAuthenticator {
  authenticate(rules: readonly JwtRulePlan[], req: InboundRequest): Promise<JwtResult>;
  /**
   * Optional: the same result, returned directly when nothing had to wait (no token,
   * or a token whose verification is cached); a promise only when keys must be fetched
   * or a signature checked.
   */
  authenticateNow?(rules: readonly JwtRulePlan[], req: InboundRequest): JwtResult | Promise<JwtResult>;
  close(): void;
}
