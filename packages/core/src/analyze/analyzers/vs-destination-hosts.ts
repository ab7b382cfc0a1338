import { subjectOf } from './subject.js';
import type { AnalysisContext } from '../context.js';
import { newMessage, type AnalysisMessage, type Subject } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { obj, strList } from '../read.js';
import { destinationHost, serviceHostMap, type ServiceEntryView } from '../service-lookup.js';
import { mirrorDestinations, routeDestinations, type AnnotatedDestination } from './vs-destinations.js';

function checkPorts(subject: Subject, d: AnnotatedDestination, se: ServiceEntryView): AnalysisMessage | null {
  if (d.port === null) {
    // Without a port, only a service with several ports is ambiguous.
    if (se.ports.length <= 1) return null;
    return newMessage(
      MESSAGE_TYPES.VirtualServiceDestinationPortSelectorRequired,
      subject,
      [d.host, se.ports],
      d.path,
    );
  }
  if (se.ports.includes(d.port)) return null;
  return newMessage(
    MESSAGE_TYPES.ReferencedResourceNotFound,
    subject,
    ['host:port', `${d.host}:${d.port}`],
    d.path,
  );
}

/**
 * IST0101 (destination or mirror host not found, or port not on it) and IST0112
 * (multi-port service without a port): istio virtualservice.DestinationHostAnalyzer.
 * Hosts are Kubernetes Services and ServiceEntry hosts visible from the
 * VirtualService's namespace and exportTo.
 */
export function analyzeDestinationHosts(ctx: AnalysisContext): AnalysisMessage[] {
  const hosts = serviceHostMap(ctx);
  const out: AnalysisMessage[] = [];
  for (const r of ctx.byKind('VirtualService')) {
    const spec = obj(r.spec);
    const subject = subjectOf(r);
    const exportTo = strList(spec['exportTo']);
    for (const d of [...routeDestinations(spec), ...mirrorDestinations(spec)]) {
      const se = destinationHost(r.metadata.namespace, exportTo, d.host, hosts);
      if (se === null) {
        const what = d.kind === 'route' ? 'host' : 'mirror host';
        out.push(newMessage(MESSAGE_TYPES.ReferencedResourceNotFound, subject, [what, d.host], d.path));
        continue;
      }
      const m = checkPorts(subject, d, se);
      if (m !== null) out.push(m);
    }
  }
  return out;
}
