// The SERVER span's name for a local port: istiod's inbound route operation
// `<service host>:<port>/*` of the port's inbound service, cached per port.
import type { DestinationService } from '../metrics/metric-event.js';
import { inboundTraceOperation } from './envoy-tags.js';

/** `inboundName(port)`; `inboundService` is read per request, so it may follow reloads. */
export function createInboundName(
  inboundService: (port: number) => DestinationService,
): (port: number) => string {
  // The name per port, made again when the port's service changes (a reload).
  const operations = new Map<number, { readonly service: DestinationService; readonly name: string }>();
  const inboundName = (port: number): string => {
    const service = inboundService(port);
    const hit = operations.get(port);
    if (hit !== undefined && hit.service === service) return hit.name;
    const name = inboundTraceOperation(service, port);
    // Ports are few; bound the cache anyway.
    if (hit !== undefined || operations.size < 64) operations.set(port, { service, name });
    return name;
  };
  return inboundName;
}
