import type { AnalysisContext } from '../context.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, obj, str } from '../read.js';

const MAX_NAMES = 5;

/** istio `formatRANames`: up to five names, then `, and N more`. */
function formatNames(names: readonly string[]): string {
  if (names.length <= MAX_NAMES) return names.join(', ');
  return `${names.slice(0, MAX_NAMES).join(', ')}, and ${names.length - MAX_NAMES} more`;
}

/**
 * istio authn.BlockedCIDRsAnalyzer: IST0175 on an istiod Deployment (label
 * `app: istiod`) none of whose containers sets BLOCKED_CIDRS_IN_JWKS_URIS,
 * when RequestAuthentications exist: istiod then fetches any jwksUri they name.
 */
export function analyzeBlockedCidrs(ctx: AnalysisContext): AnalysisMessage[] {
  const names = ctx.byKind('RequestAuthentication').map((r) => `${r.metadata.namespace}/${r.metadata.name}`);
  if (names.length === 0) return [];
  const out: AnalysisMessage[] = [];
  for (const p of ctx.snapshot.platform) {
    if (p.kind !== 'Deployment' || p.apiVersion !== 'apps/v1' || p.metadata.labels['app'] !== 'istiod')
      continue;
    const containers = arr(obj(obj(obj(p.body['spec'])['template'])['spec'])['containers']).map(obj);
    const configured = containers.some((c) =>
      arr(c['env'])
        .map(obj)
        .some((e) => str(e['name']) === 'BLOCKED_CIDRS_IN_JWKS_URIS' && str(e['value']) !== ''),
    );
    if (configured) continue;
    const subject = {
      kind: p.kind,
      namespace: p.metadata.namespace,
      name: p.metadata.name,
      origin: p.origin,
    };
    out.push(newMessage(MESSAGE_TYPES.JwksUriFetchUnrestricted, subject, [names.length, formatNames(names)]));
  }
  return out;
}
