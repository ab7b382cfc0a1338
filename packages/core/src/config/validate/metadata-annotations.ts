import { parseGoBool } from './go-bool.js';
import type { ResourceMetadata } from '../resource.js';
import type { Finding } from './context.js';

const DRY_RUN = 'istio.io/dry-run';

/** The annotations istiod's webhook refuses on any resource (pkg/config/constants/constants.go). */
const REFUSED: readonly (readonly [string, string])[] = [
  ['internal.istio.io/webhook-always-reject', 'annotation found, rejecting'],
  ['internal.istio.io/parent-namespace', 'annotation found, this may not be set by users'],
  ['internal.istio.io/parents', 'annotation found, this may not be set by users'],
];

function refuse(path: readonly (string | number)[], message: string): Finding {
  return { level: 'Error', code: 'IST0106', path: ['metadata', 'annotations', ...path], message };
}

/**
 * The metadata checks istiod's webhook runs on every Istio resource before its spec
 * (pkg/config/validation/validation.go validateMetadata, checkDryRunAnnotation): only an
 * AuthorizationPolicy may carry `istio.io/dry-run`, only with action ALLOW or DENY, and only
 * with a value strconv.ParseBool takes; the internal annotations are refused. Like the
 * webhook, it stops at the first problem; null when there is none.
 */
export function metadataAnnotationProblem(
  kind: string,
  metadata: Pick<ResourceMetadata, 'namespace' | 'name' | 'annotations'>,
  spec: unknown,
): Finding | null {
  const ref = `${metadata.namespace}/${metadata.name}`;
  const dryRun = metadata.annotations[DRY_RUN];
  if (dryRun !== undefined) {
    if (kind !== 'AuthorizationPolicy')
      return refuse([DRY_RUN], `${ref} has unsupported annotation ${DRY_RUN}, please remove the annotation`);
    const raw = typeof spec === 'object' && spec !== null ? (spec as { action?: unknown }).action : undefined;
    const action = typeof raw === 'string' ? raw : 'ALLOW';
    if (action !== 'ALLOW' && action !== 'DENY')
      return refuse(
        [DRY_RUN],
        `the annotation ${DRY_RUN} currently only supports action ALLOW/DENY, found action ${action} in ${ref}`,
      );
    if (parseGoBool(dryRun) === null)
      return refuse(
        [DRY_RUN],
        `${ref} has annotation ${DRY_RUN} with invalid value (${dryRun}): strconv.ParseBool: parsing ${JSON.stringify(dryRun)}: invalid syntax`,
      );
  }
  for (const [name, what] of REFUSED)
    if (metadata.annotations[name] !== undefined) return refuse([name], `${JSON.stringify(name)} ${what}`);
  return null;
}
