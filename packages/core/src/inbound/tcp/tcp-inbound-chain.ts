import type { Socket } from 'node:net';
import type { MtlsMode } from '../../compile/inbound-types.js';
import type { MeshPlan } from '../../compile/plan-types.js';
import type { MeshTelemetry } from '../../telemetry/mesh-telemetry.js';
import type { TcpExchangeState } from '../../telemetry/metadata-exchange/tcp-exchange.js';
import type { PeerIdentity } from '../request-context.js';
import {
  compileConnectionAuthorization,
  type ConnectionAuthorization,
  type ConnectionCheck,
  type ConnectionDecision,
} from './connection-authz.js';
import { TcpInboundObserver, type ConnectionAddresses } from './tcp-inbound-observer.js';

/** What the application learns of an inbound TCP connection. */
export interface MeshTcpConnectionInfo {
  /** The verified mTLS peer; null for plaintext (and for TLS the application terminates itself). */
  readonly peer: PeerIdentity | null;
  /** The local port the connection arrived on. */
  readonly port: number;
  /** The PeerAuthentication mode the port was under. */
  readonly mode: MtlsMode;
}

/**
 * The application's side of an inbound TCP connection: `socket` is plaintext to read and
 * write (the mesh terminated mTLS); end or destroy it as with any net.Socket.
 */
export type MeshTcpHandler = (socket: Socket, info: MeshTcpConnectionInfo) => void;

/** Payload of the `meshConnectionDenied` event: the connection AuthorizationPolicy refused. */
export interface ConnectionDenial {
  readonly port: number;
  readonly remoteAddress: string | null;
  readonly peer: PeerIdentity | null;
  readonly decision: Extract<ConnectionDecision, { allow: false }>;
}

/** A connection past PeerAuthentication: what the listener learnt of it. */
export interface InboundConnection {
  readonly socket: Socket;
  readonly mode: MtlsMode;
  readonly peer: PeerIdentity | null;
  readonly sni: string | null;
  readonly port: number;
  /** The downstream's and the local address; default the socket's. */
  readonly addresses?: ConnectionAddresses;
  /** The connection's TCP metadata exchange, when it ran one. */
  readonly exchange?: TcpExchangeState;
}

/** What the chain did with a connection; a refused one is the caller's to close. */
export type ChainOutcome =
  | { readonly served: true }
  | {
      readonly served: false;
      readonly reason: 'no-plan' | 'rbac-denied' | 'ext-authz-denied';
      readonly detail: string;
      readonly denial: ConnectionDenial | null;
    };

export interface TcpInboundChainOptions {
  readonly plan: () => MeshPlan | null;
  readonly telemetry: () => MeshTelemetry | null;
  readonly handler: MeshTcpHandler;
  /** Asks a CUSTOM policy's gRPC provider (Envoy's network ext_authz); absent: such connections are refused. */
  readonly check?: ConnectionCheck;
}

const ACTION = { custom: 'CUSTOM', deny: 'DENY', allow: 'ALLOW' } as const;

/**
 * A sidecar's inbound TCP filter chain after its TLS: the AuthorizationPolicies compiled
 * for TCP (connection-authz.ts), the stats filter and access log (tcp-inbound-observer.ts),
 * then the application. `mesh.listenTcp`'s server and the mock mesh's pods both run it.
 */
export class TcpInboundChain {
  readonly #options: TcpInboundChainOptions;
  #compiled: { readonly plan: MeshPlan; readonly authz: ConnectionAuthorization } | null = null;

  constructor(options: TcpInboundChainOptions) {
    this.#options = options;
  }

  #authorization(plan: MeshPlan): ConnectionAuthorization {
    if (this.#compiled?.plan !== plan) this.#compiled = { plan, authz: compileConnectionAuthorization(plan) };
    return this.#compiled.authz;
  }

  /** The outcome, or its promise while an ext_authz provider is asked. */
  serve(c: InboundConnection): ChainOutcome | Promise<ChainOutcome> {
    const { socket, port, peer } = c;
    const plan = this.#options.plan();
    if (plan === null) {
      return {
        served: false,
        reason: 'no-plan',
        detail: 'the plan could not be read; failing closed',
        denial: null,
      };
    }
    const addresses = c.addresses ?? {
      local: { address: socket.localAddress, port: socket.localPort },
      remote: { address: socket.remoteAddress, port: socket.remotePort },
    };
    const telemetry = this.#options.telemetry();
    const observer =
      telemetry === null
        ? null
        : new TcpInboundObserver(telemetry, socket, port, peer, c.sni, addresses, c.exchange ?? null);
    const facts = {
      peer,
      port,
      sourceIp: addresses.remote.address ?? '',
      sourcePort: addresses.remote.port ?? 0,
      destinationIp: addresses.local.address ?? '',
      sni: c.sni,
    };
    const authz = this.#authorization(plan);
    const check = this.#options.check;
    const decided = check === undefined ? authz.decide(facts) : authz.decide(facts, check);
    const finish = (decision: ConnectionDecision): ChainOutcome => {
      if (!decision.allow) {
        observer?.denied(decision.terminationDetails, decision.flags);
        telemetry?.meshlet.authzDenied(decision.policy, ACTION[decision.stage]);
        return {
          served: false,
          reason: decision.flags.includes('UAEX') ? 'ext-authz-denied' : 'rbac-denied',
          detail: decision.detail,
          denial: { port, remoteAddress: addresses.remote.address ?? null, peer, decision },
        };
      }
      observer?.served();
      this.#options.handler(socket, Object.freeze({ peer, port, mode: c.mode }));
      return { served: true };
    };
    if (!(decided instanceof Promise)) return finish(decided);
    // The network ext_authz filter holds the connection until its provider answers.
    return decided.then(finish, (err: unknown) =>
      finish({
        allow: false,
        stage: 'custom',
        policy: null,
        detail: `the ext_authz check failed: ${err instanceof Error ? err.message : String(err)}`,
        terminationDetails: null,
        flags: ['UAEX'],
        shadow: [],
      }),
    );
  }
}
