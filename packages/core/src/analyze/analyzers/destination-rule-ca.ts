import type { AnalysisContext } from '../context.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, isObj, num, obj, str, type Obj } from '../read.js';
import { subjectOf } from './subject.js';

/** TLS `mode` when it verifies a server (SIMPLE/MUTUAL) without `caCertificates`, else null. */
function unverifiedMode(tls: Obj, hasWorkloadSelector: boolean): string | null {
  const mode = str(tls['mode']);
  if (mode !== 'SIMPLE' && mode !== 'MUTUAL') return null;
  if (str(tls['caCertificates']) !== '') return null;
  // A credentialName on a DestinationRule with a workloadSelector carries its own CA.
  if (str(tls['credentialName']) !== '' && hasWorkloadSelector) return null;
  return mode;
}

/**
 * IST0128 / IST0129: `trafficPolicy.tls` (destination level) or a
 * `portLevelSettings[].tls` (port level) with mode SIMPLE or MUTUAL and no
 * `caCertificates`: istio destinationrule.CaCertificateAnalyzer.
 */
export function analyzeCaCertificates(ctx: AnalysisContext): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const r of ctx.byKind('DestinationRule')) {
    const spec = obj(r.spec);
    const host = str(spec['host']);
    const ws = isObj(spec['workloadSelector']);
    const policy = obj(spec['trafficPolicy']);
    const subject = subjectOf(r);
    const name = `${r.metadata.namespace}/${r.metadata.name}`;
    const mode = unverifiedMode(obj(policy['tls']), ws);
    if (mode !== null) {
      out.push(
        newMessage(
          MESSAGE_TYPES.NoServerCertificateVerificationDestinationLevel,
          subject,
          [name, r.metadata.namespace, mode, host],
          ['spec', 'trafficPolicy', 'tls', 'caCertificates'],
        ),
      );
    }
    arr(policy['portLevelSettings']).forEach((raw, i) => {
      const p = obj(raw);
      const portMode = unverifiedMode(obj(p['tls']), ws);
      if (portMode === null) return;
      // Istio prints the PortSelector proto in text format.
      const port = isObj(p['port']) ? `number:${num(p['port']['number'])}` : '';
      out.push(
        newMessage(
          MESSAGE_TYPES.NoServerCertificateVerificationPortLevel,
          subject,
          [name, r.metadata.namespace, portMode, host, port],
          ['spec', 'trafficPolicy', 'portLevelSettings', i, 'tls', 'caCertificates'],
        ),
      );
    });
  }
  return out;
}
