import { peerCertificateNames } from '../../identity/spiffe.js';
import type { PeerIdentity } from '../request-context.js';
import type { AuthzInput } from './input.js';
import { parseIp, type Ip } from './ip.js';
import { remoteIp } from './remote-ip.js';

/** The request facts `RequestAuthzInput` derives its fields from. */
export interface AuthzRequestFacts {
  readonly method: string;
  readonly authority: string;
  /** The request target as received (the query `:path` carries). */
  readonly url: string;
  readonly scheme: string;
  readonly port: number;
  readonly headers: AuthzInput['headers'];
  readonly peer: PeerIdentity | null;
  readonly sourceIp: string;
  readonly destinationIp: string;
  readonly sni: string | null;
}

const UNSET = Symbol('unset');

/**
 * The `AuthzInput` of one request. Addresses, the lower-cased host and the peer's
 * SPIFFE URI are derived on first read: most policies never look at `ipBlocks`,
 * `remote.ip` or `destination.ip`, and parsing three addresses for every request
 * was a measurable share of a decision.
 */
export class RequestAuthzInput implements AuthzInput {
  readonly method: string;
  readonly path: string;
  readonly port: number;
  readonly headers: AuthzInput['headers'];
  readonly overlay: AuthzInput['overlay'];
  readonly peer: PeerIdentity | null;
  readonly claims: AuthzInput['claims'];
  readonly sni: string | null;
  readonly authority: string;
  readonly scheme: string;
  readonly #req: AuthzRequestFacts;
  readonly #numTrustedProxies: number;
  readonly #gateway: boolean;
  #host: string | typeof UNSET = UNSET;
  #peerUri: string | null | typeof UNSET = UNSET;
  #peerNames: readonly string[] | undefined | typeof UNSET = UNSET;
  #sourceIp: Ip | null | typeof UNSET = UNSET;
  #remoteIp: Ip | null | typeof UNSET = UNSET;
  #destinationIp: Ip | null | typeof UNSET = UNSET;

  constructor(
    req: AuthzRequestFacts,
    path: string,
    overlay: AuthzInput['overlay'],
    claims: AuthzInput['claims'],
    numTrustedProxies: number,
    gateway: boolean,
  ) {
    this.#req = req;
    this.#numTrustedProxies = numTrustedProxies;
    this.#gateway = gateway;
    this.method = req.method;
    this.path = path;
    this.port = req.port;
    this.headers = req.headers;
    this.overlay = overlay;
    this.peer = req.peer;
    this.claims = claims;
    this.sni = req.sni;
    this.authority = req.authority;
    this.scheme = req.scheme;
  }

  /** The target's `?query` without the fragment, as Envoy's `:path` keeps it after normalization. */
  get query(): string {
    const url = this.#req.url;
    const hash = url.indexOf('#');
    const target = hash >= 0 ? url.slice(0, hash) : url;
    const q = target.indexOf('?');
    return q >= 0 ? target.slice(q) : '';
  }

  /**
   * The same request with more header edits laid over it (a CUSTOM provider's), for
   * the DENY and ALLOW policies that run after it: Envoy's RBAC filter sees the headers
   * ext_authz left on the request. `undefined` marks a removed header.
   */
  withOverlay(edits: Readonly<Record<string, string | undefined>>): RequestAuthzInput {
    return new RequestAuthzInput(
      this.#req,
      this.path,
      { ...this.overlay, ...edits },
      this.claims,
      this.#numTrustedProxies,
      this.#gateway,
    );
  }

  get host(): string {
    if (this.#host === UNSET) this.#host = this.#req.authority.toLowerCase();
    return this.#host;
  }

  get peerUri(): string | null {
    if (this.#peerUri === UNSET)
      this.#peerUri = this.peer === null ? null : `spiffe://${this.peer.principal}`;
    return this.#peerUri;
  }

  get peerNames(): readonly string[] | undefined {
    if (this.#peerNames === UNSET)
      this.#peerNames = this.peer === null ? undefined : peerCertificateNames(this.peer);
    return this.#peerNames;
  }

  get sourceIp(): Ip | null {
    if (this.#sourceIp === UNSET) this.#sourceIp = parseIp(this.#req.sourceIp);
    return this.#sourceIp;
  }

  get remoteIp(): Ip | null {
    if (this.#remoteIp === UNSET)
      this.#remoteIp = remoteIp(
        this.#req.headers['x-forwarded-for'],
        this.sourceIp,
        this.#numTrustedProxies,
        this.#gateway,
      );
    return this.#remoteIp;
  }

  get destinationIp(): Ip | null {
    if (this.#destinationIp === UNSET) this.#destinationIp = parseIp(this.#req.destinationIp);
    return this.#destinationIp;
  }
}
