/** The verified mTLS identity of the caller (security.md §1). */
export interface PeerIdentity {
  /** `<trust-domain>/ns/<ns>/sa/<sa>`: the URI SAN without `spiffe://`, as AuthorizationPolicy principals read. */
  readonly principal: string;
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** The JWT identity of the request (RequestAuthentication, security.md §2). */
export interface RequestAuth {
  /** `iss/sub` */
  readonly principal: string;
  readonly claims: Readonly<Record<string, unknown>>;
}

/** What the adapters attach to each request as `request.meshlet` / `req.meshlet`. */
export interface MeshletRequestContext {
  readonly peer: PeerIdentity | null;
  readonly auth: RequestAuth | null;
}

/** The context of a request that arrived without mTLS and without a token. */
export const ANONYMOUS: MeshletRequestContext = Object.freeze({ peer: null, auth: null });
