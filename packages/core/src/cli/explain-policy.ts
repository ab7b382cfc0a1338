import { readsCredential } from '../compile/credential-reader.js';
import type { Cluster, Fault, MeshPlan } from '../compile/plan-types.js';
import { UNLIMITED, type ClusterPolicy } from '../compile/traffic-policy.js';

/** A cluster's effective DestinationRule `trafficPolicy`, one line per component. */
export interface PolicySummary {
  readonly loadBalancer: string;
  readonly connectionPool: string;
  readonly outlierDetection: string;
  readonly tls: string;
}

function lb(p: ClusterPolicy['loadBalancer']): string {
  const ch = p.consistentHash;
  if (ch === null) return p.simple ?? 'LEAST_REQUEST';
  const key =
    ch.key.kind === 'header'
      ? `header ${ch.key.name}`
      : ch.key.kind === 'cookie'
        ? `cookie ${ch.key.name}`
        : ch.key.kind === 'queryParameter'
          ? `query ${ch.key.name}`
          : 'source IP';
  return `consistent hash on ${key} (${ch.ring.kind})`;
}

function pool(p: ClusterPolicy['connectionPool']): string {
  const parts: string[] = [];
  const add = (name: string, v: number) => {
    if (v !== UNLIMITED && v !== 0) parts.push(`${name} ${v}`);
  };
  add('maxConnections', p.tcp.maxConnections);
  add('http1MaxPendingRequests', p.http.http1MaxPendingRequests);
  add('http2MaxRequests', p.http.http2MaxRequests);
  add('maxRequestsPerConnection', p.http.maxRequestsPerConnection);
  add('maxRetries', p.http.maxRetries);
  if (p.tcp.maxConnectionDurationMs !== null)
    parts.push(`maxConnectionDuration ${p.tcp.maxConnectionDurationMs}ms`);
  return parts.length === 0 ? 'no limits (Envoy defaults)' : parts.join(', ');
}

function outlier(p: ClusterPolicy['outlierDetection']): string {
  if (p === null) return 'off';
  const parts: string[] = [];
  if (p.consecutive5xxErrors > 0) parts.push(`consecutive5xxErrors ${p.consecutive5xxErrors}`);
  if (p.consecutiveGatewayErrors > 0) parts.push(`consecutiveGatewayErrors ${p.consecutiveGatewayErrors}`);
  parts.push(
    `interval ${p.intervalMs}ms`,
    `baseEjectionTime ${p.baseEjectionTimeMs}ms`,
    `maxEjectionPercent ${p.maxEjectionPercent}%`,
  );
  if (p.httpErrorCodes !== null) parts.push(`error codes ${p.httpErrorCodes.join(' ')}`);
  return parts.join(', ');
}

/**
 * The cluster's TLS in words; `readsCredential` says whether the proxy may read the secret
 * its `credentialName` names (compile/credential-reader.ts).
 */
function tls(p: ClusterPolicy['tls'], readsCredential: (name: string) => boolean): string {
  if (p === null)
    return 'auto mTLS (ISTIO_MUTUAL to mesh workloads unless the service is MESH_EXTERNAL or its namespace DISABLEs mTLS; plaintext otherwise)';
  const name = p.credentialName;
  if (name !== null && (p.mode === 'SIMPLE' || p.mode === 'MUTUAL') && !readsCredential(name))
    return `none: credentialName ${name} is read by gateways and by sidecars whose DestinationRule has a workloadSelector; istiod gives this sidecar the cluster without TLS`;
  return `${p.mode}${name === null ? '' : ` with secret ${name}`}${p.sni === null ? '' : ` sni ${p.sni}`}${p.insecureSkipVerify ? ' insecureSkipVerify' : ''}${p.caCrl === null ? '' : ` caCrl ${p.caCrl}`}`;
}

/** Summarises a cluster policy for `meshlet explain`. */
export function summarizePolicy(cluster: Cluster, plan: Pick<MeshPlan, 'gateway'>): PolicySummary {
  const p = cluster.policy;
  return {
    loadBalancer: lb(p.loadBalancer),
    connectionPool: pool(p.connectionPool),
    outlierDetection: outlier(p.outlierDetection),
    tls: tls(p.tls, (name) => readsCredential(plan, cluster, name)),
  };
}

/** A route's `fault` in words. */
export function describeFaultPolicy(f: Fault | null): string {
  if (f === null) return 'none';
  const parts: string[] = [];
  if (f.delay !== null) parts.push(`delay ${f.delay.ms}ms for ${f.delay.percent}% of requests`);
  if (f.abort !== null)
    parts.push(
      `abort with ${f.abort.httpStatus === null ? `gRPC ${f.abort.grpcStatus}` : `HTTP ${f.abort.httpStatus}`} for ${f.abort.percent}% of requests (flag FI)`,
    );
  return parts.join('; ');
}
