import { Gauge, type Registry } from 'prom-client';
import { MESHLET_VERSION } from '../../version.js';

/**
 * `istio_build{component="proxy",tag=<version>} 1`, which every sidecar exports and Istio's
 * dashboards group proxies by (spec/telemetry.md §1). The tag names meshlet and its version,
 * so a dashboard tells a library-served workload from an Envoy sidecar.
 */
export function registerIstioBuild(registry: Registry): void {
  if (registry.getSingleMetric('istio_build') !== undefined) return;
  const g = new Gauge({
    name: 'istio_build',
    help: 'Istio component build info',
    labelNames: ['component', 'tag'],
    registers: [registry],
  });
  g.set({ component: 'proxy', tag: `meshlet-${MESHLET_VERSION}` }, 1);
}
