import type { AnalysisContext } from '../context.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, obj, str } from '../read.js';
import { subjectOf } from './subject.js';

/**
 * Whether proxies allocate ServiceEntry addresses themselves: mesh
 * `defaultConfig.proxyMetadata` has ISTIO_META_DNS_CAPTURE=true and
 * ISTIO_META_DNS_AUTO_ALLOCATE or PILOT_ENABLE_IP_AUTOALLOCATE =true
 * (istio serviceentry/protocoladdresses.go).
 */
function proxiesAllocate(ctx: AnalysisContext): boolean {
  const meta = obj(obj(ctx.meshConfig.defaultConfig)['proxyMetadata']);
  if (meta['ISTIO_META_DNS_CAPTURE'] !== 'true') return false;
  return meta['ISTIO_META_DNS_AUTO_ALLOCATE'] === 'true' || meta['PILOT_ENABLE_IP_AUTOALLOCATE'] === 'true';
}

/**
 * istio serviceentry.ProtocolAddressesAnalyzer (registered as `serviceentry.Analyzer`):
 * IST0134 for each TCP (or protocol-less) port of a ServiceEntry without
 * `addresses`, unless proxies auto-allocate them or the entry's `status.addresses`
 * holds addresses istiod allocated (istio addressAllocated).
 */
export function analyzeServiceEntryAddresses(ctx: AnalysisContext): AnalysisMessage[] {
  if (proxiesAllocate(ctx)) return [];
  const out: AnalysisMessage[] = [];
  for (const r of ctx.byKind('ServiceEntry')) {
    const spec = obj(r.spec);
    if (arr(spec['addresses']).length > 0) continue;
    if (arr(obj(r.status)['addresses']).length > 0) continue;
    arr(spec['ports']).forEach((p, i) => {
      const protocol = str(obj(p)['protocol']);
      if (protocol !== '' && protocol.toUpperCase() !== 'TCP') return;
      // istio points at the port's name; an unnamed port has no line there (its field
      // map holds scalars only), so the message takes the resource's line.
      const at = typeof obj(p)['name'] === 'string' ? ['spec', 'ports', i, 'name'] : undefined;
      out.push(newMessage(MESSAGE_TYPES.ServiceEntryAddressesRequired, subjectOf(r), [], at));
    });
  }
  return out;
}
