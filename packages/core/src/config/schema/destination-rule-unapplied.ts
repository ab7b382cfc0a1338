import { DIAGNOSTIC_CODES } from '../diagnostic-codes.js';
import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import type {
  ConnectionPoolSettings,
  PortTrafficPolicy,
  TrafficPolicy,
} from './destination-rule-traffic-policy.js';

/**
 * Traffic-policy settings meshlet validates but does not act on, each warned (MESHLET0004)
 * with what happens instead, never silently ignored (DESIGN.md "Istio is the spec").
 * Load-balancer ones are in destination-rule-validate.ts.
 */
export function warnUnappliedTrafficPolicy(
  tp: TrafficPolicy | PortTrafficPolicy,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  const warn = (at: FieldPath, message: string) =>
    ctx.warn([...path, ...at], message, DIAGNOSTIC_CODES.unsupported);
  warnConnectionPool(tp.connectionPool, warn);
  if ('tunnel' in tp && tp.tunnel !== undefined)
    warn(
      ['tunnel'],
      'tunneling is not applied by meshlet: requests go to the endpoint directly, not through a CONNECT or POST tunnel',
    );
  if ('proxyProtocol' in tp && tp.proxyProtocol !== undefined)
    warn(
      ['proxyProtocol'],
      'proxyProtocol is not applied by meshlet: no PROXY protocol header is sent upstream',
    );
  if ('retryBudget' in tp && tp.retryBudget?.budgetInterval !== undefined)
    warn(
      ['retryBudget', 'budgetInterval'],
      'budgetInterval is not applied by meshlet: the retry budget is the share of retries in flight among requests in flight',
    );
}

type Warn = (at: FieldPath, message: string) => void;

function warnConnectionPool(cp: ConnectionPoolSettings | undefined, warn: Warn): void {
  const ka = cp?.tcp?.tcpKeepalive;
  if (ka?.interval !== undefined || ka?.probes !== undefined)
    warn(
      ['connectionPool', 'tcp', 'tcpKeepalive', ka.interval !== undefined ? 'interval' : 'probes'],
      'tcpKeepalive interval and probes are not applied by meshlet: Node sets only the time before the first probe; the interval and the probe count stay the operating system’s',
    );
  // istio cluster_traffic_policy.go applyH2Upgrade: UPGRADE makes the cluster HTTP/2.
  if (cp?.http?.h2UpgradePolicy === 'UPGRADE')
    warn(
      ['connectionPool', 'http', 'h2UpgradePolicy'],
      'h2UpgradePolicy UPGRADE is not applied by meshlet: its client speaks HTTP/1.1 to every upstream',
    );
}
