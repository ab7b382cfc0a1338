import type { Resource } from '../../config/resource.js';
import type { AnalysisContext } from '../context.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, isObj, obj, str, strMap } from '../read.js';
import { subjectOf } from './subject.js';

type Tls = Readonly<Record<string, unknown>>;

/** istio `haveSameCertificate`: the same credentialName, or the same file certificate and key. */
function sameCertificate(a: Tls, b: Tls): boolean {
  const ca = str(a['credentialName']);
  const cb = str(b['credentialName']);
  if (ca !== '' && cb !== '') return ca === cb;
  if (ca !== '' || cb !== '') return false;
  const certA = str(a['serverCertificate']);
  const certB = str(b['serverCertificate']);
  if (certA === '' || certA !== certB) return false;
  const keyA = str(a['privateKey']);
  const keyB = str(b['privateKey']);
  return keyA !== '' && keyA === keyB;
}

/** istio `selectorSubset`: every label of `x` is in `y` with the same value. */
function selectorSubset(x: Readonly<Record<string, string>>, y: Readonly<Record<string, string>>): boolean {
  return Object.entries(x).every(([k, v]) => y[k] === v);
}

function tlsOf(gw: Resource): Tls[] {
  return arr(obj(gw.spec)['servers'])
    .map((s) => obj(s)['tls'])
    .filter(isObj);
}

const fullName = (r: Resource) => `${r.metadata.namespace}/${r.metadata.name}`;

/**
 * istio gateway.CertificateAnalyzer: IST0138 on a Gateway when another Gateway
 * whose selector includes this one's (any Gateway when this one has no
 * selector; all namespaces, PILOT_SCOPE_GATEWAY_TO_NAMESPACE being off by
 * default) serves the same certificate: HTTP/2 clients reusing a connection
 * across hosts then reach the wrong server and get 404s.
 */
export function analyzeGatewayCertificates(ctx: AnalysisContext): AnalysisMessage[] {
  const gateways = ctx.byKind('Gateway');
  const out: AnalysisMessage[] = [];
  for (const gw of gateways) {
    const selector = strMap(obj(gw.spec)['selector']);
    const own = tlsOf(gw);
    for (const other of gateways) {
      if (fullName(other) === fullName(gw)) continue;
      if (!selectorSubset(selector, strMap(obj(other.spec)['selector']))) continue;
      const theirs = tlsOf(other);
      for (const a of own) {
        for (const b of theirs) {
          if (!sameCertificate(a, b)) continue;
          out.push(
            newMessage(
              MESSAGE_TYPES.GatewayDuplicateCertificate,
              subjectOf(gw),
              [[fullName(gw), fullName(other)]],
              ['metadata', 'name'],
            ),
          );
        }
      }
    }
  }
  return out;
}
