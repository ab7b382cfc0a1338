import { encodeConnectionCheckRequest } from '../authz/ext-authz-messages.js';
import { grpcCheckCall, type GrpcCheckDeps } from '../authz/ext-authz-grpc.js';
import type { ConnectionCheck, ConnectionCheckResult } from './connection-authz.js';

const ALLOW: ConnectionCheckResult = Object.freeze({ allow: true });

/**
 * Envoy's network ext_authz filter with a CUSTOM policy's gRPC provider (istiod
 * extauthz.go `generateGRPCConfig`: `tcp`, failure_mode_allow = the provider's failOpen):
 * a CheckRequest with the connection's source and destination (addresses, and over mTLS
 * the peer's and the local certificate's URI SAN), no request. OK admits the connection;
 * any other status refuses it (ext_authz.cc onComplete: Denied closes it, flag UAEX); an
 * error_response, a transport error or the provider's timeout is an Error, which closes it
 * unless failOpen.
 */
export function connectionCheckGrpc(deps: Omit<GrpcCheckDeps, 'localPrincipal'>): ConnectionCheck {
  return (p, f) => {
    const failed = (why: string): ConnectionCheckResult =>
      p.failOpen
        ? ALLOW
        : { allow: false, failed: true, detail: `ext_authz provider ${p.name} failed: ${why}` };
    const message = encodeConnectionCheckRequest({
      source: {
        address: f.sourceIp,
        port: f.sourcePort ?? 0,
        principal: f.peer === null ? '' : `spiffe://${f.peer.principal}`,
      },
      destination: {
        address: f.destinationIp,
        port: f.port,
        principal: f.peer === null ? '' : f.localPrincipal,
      },
    });
    return grpcCheckCall(
      p,
      message,
      { ...deps, localPrincipal: f.localPrincipal },
      (res): ConnectionCheckResult => {
        if (res.code === 0) return ALLOW;
        const status = `gRPC status ${res.code}${res.message === '' ? '' : ` (${res.message})`}`;
        if (res.error !== null) return failed(`it answered an error with ${status}`);
        return {
          allow: false,
          failed: false,
          detail: `ext_authz provider ${p.name} denied the connection with ${status}`,
        };
      },
      failed,
    );
  };
}
