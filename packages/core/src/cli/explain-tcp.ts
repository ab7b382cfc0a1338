import type { MeshPlan } from '../compile/plan-types.js';
import { parseSpiffeId } from '../identity/spiffe.js';
import type { AuthzInput } from '../inbound/authz/input.js';
import { parseIp } from '../inbound/authz/ip.js';
import { compileConnectionAuthorization, tcpCustomNotes } from '../inbound/tcp/connection-authz.js';
import { walkAuthorization, type AuthzWalk } from './explain-authz.js';
import { peerSection, type InboundExplanation } from './explain-inbound.js';

/** An inbound TCP connection to explain (`meshlet explain --tcp <port>`). */
export interface TcpInput {
  /** The workload port the connection arrives on. */
  readonly port: number;
  /** `spiffe://td/ns/x/sa/y`, or null for a caller without mTLS. */
  readonly peer: string | null;
  readonly sourceIp: string;
  /** The SNI of the mTLS handshake (`connection.sni`); null for none. */
  readonly sni: string | null;
}

/** Why an inbound TCP connection is admitted or closed (`mesh.listenTcp`). */
export interface TcpExplanation {
  readonly kind: 'tcp';
  readonly workload: string;
  readonly connection: {
    readonly port: number;
    readonly sourceIp: string;
    readonly peer: string | null;
    readonly sni: string | null;
  };
  readonly peerAuthentication: InboundExplanation['peerAuthentication'];
  /** Every policy rule by rule, as the TCP chain has them (HTTP-only fields left out or dropped). */
  readonly authorization: AuthzWalk;
  /** What the TCP chain does with each CUSTOM policy (its provider decides). */
  readonly custom: readonly string[];
  readonly decision: {
    readonly allow: boolean;
    readonly stage: string;
    readonly policy: string | null;
    readonly detail: string;
    readonly shadow: readonly string[];
    /** `%CONNECTION_TERMINATION_DETAILS%` of a refused connection; null when admitted. */
    readonly terminationDetails: string | null;
  };
  readonly verdict: string;
}

/**
 * One inbound TCP connection walked through the sidecar's inbound TCP chain as
 * `mesh.listenTcp` applies it: the port's PeerAuthentication mode, then the network RBAC
 * decision (connection-authz.ts, the same code the listener runs) with each policy's rules
 * as Istio compiles them for TCP.
 */
export function explainTcp(plan: MeshPlan, input: TcpInput): TcpExplanation {
  const peerId = input.peer === null ? null : parseSpiffeId(input.peer);
  const pa = peerSection(plan, input.port, peerId);
  const peerAuthentication = pa.accepted
    ? pa
    : { ...pa, note: 'STRICT needs a client certificate: a plaintext connection is closed at once' };
  const peer = pa.mode === 'DISABLE' ? null : peerId;
  const w = plan.workload;
  const base = {
    kind: 'tcp' as const,
    workload: `${w.namespace}/${w.name}`,
    connection: { port: input.port, sourceIp: input.sourceIp, peer: input.peer, sni: input.sni },
    peerAuthentication,
    custom: tcpCustomNotes(plan),
  };
  const source = parseIp(input.sourceIp);
  const authzInput: AuthzInput = {
    method: '',
    path: '',
    host: '',
    port: input.port,
    headers: {},
    overlay: null,
    peer,
    peerUri: peer === null ? null : `spiffe://${peer.principal}`,
    claims: null,
    sourceIp: source,
    remoteIp: source,
    destinationIp: parseIp('127.0.0.1'),
    sni: input.sni,
  };
  const authorization = walkAuthorization(
    plan.inbound.authorization,
    { trustDomains: [plan.meshConfig.trustDomain, ...plan.meshConfig.trustDomainAliases], tcp: true },
    authzInput,
  );
  if (!pa.accepted)
    return {
      ...base,
      authorization,
      decision: {
        allow: false,
        stage: 'mtls',
        policy: null,
        detail: peerAuthentication.note,
        shadow: [],
        terminationDetails: null,
      },
      verdict: `REFUSED at the connection: STRICT mTLS (${pa.decidedBy}) and the caller has no client certificate`,
    };
  const d = compileConnectionAuthorization(plan).decide({
    peer,
    port: input.port,
    sourceIp: input.sourceIp,
    destinationIp: '127.0.0.1',
    sni: input.sni,
  });
  const shadow = d.shadow.map((s) => `${s.action} ${s.policy}: ${s.result}`);
  if (d.allow)
    return {
      ...base,
      authorization,
      decision: { allow: true, stage: 'allowed', policy: null, detail: '', shadow, terminationDetails: null },
      verdict: 'ADMITTED: the application gets the connection',
    };
  return {
    ...base,
    authorization,
    decision: {
      allow: false,
      stage: d.stage,
      policy: d.policy,
      detail: d.detail,
      shadow,
      terminationDetails: d.terminationDetails,
    },
    verdict:
      d.asks !== undefined
        ? `ASKS gRPC ext_authz provider ${JSON.stringify(d.asks)} (Envoy's network ext_authz, CUSTOM policy ${String(d.policy)}): admitted only if it answers OK, else closed (UAEX)`
        : `REFUSED: ${d.detail}; closed before the application sees it`,
  };
}
