import type { UpstreamEvent, UpstreamEventSink } from '../../outbound/upstream/events.js';
import type { MeshletMetrics } from './meshlet-metrics.js';

/**
 * The cluster manager's event sink (`createClusterManager({ onEvent })`) feeding
 * meshlet's state metrics: connection-pool overflow (Envoy
 * `upstream_rq_pending_overflow`), retry overflow (`upstream_rq_retry_overflow`),
 * outlier ejections (`ejections_enforced_total`) and the endpoints ejected now
 * (`ejections_active`, counted from EJECT/UNEJECT). Never throws.
 */
export function upstreamEventMetrics(meshlet: MeshletMetrics): UpstreamEventSink {
  const ejected = new Map<string, Set<string>>();
  const setEjected = (cluster: string, host: string, on: boolean): void => {
    let hosts = ejected.get(cluster);
    if (hosts === undefined) {
      if (!on) return;
      hosts = new Set();
      ejected.set(cluster, hosts);
    }
    if (on) hosts.add(host);
    else hosts.delete(host);
    meshlet.ejectedEndpoints(cluster, hosts.size);
  };
  return (e: UpstreamEvent): void => {
    try {
      switch (e.type) {
        case 'overflow':
          if (e.reason === 'retry') meshlet.retryOverflow(e.cluster);
          else meshlet.poolOverflow(e.cluster);
          return;
        case 'eject':
          meshlet.outlierEjection(e.cluster);
          setEjected(e.cluster, e.host, true);
          return;
        case 'uneject':
          setEjected(e.cluster, e.host, false);
          return;
        default:
          return;
      }
    } catch {
      // Telemetry never throws into the application.
    }
  };
}
