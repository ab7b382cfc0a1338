import type { HTTPMatchRequestIn, HTTPRouteIn, StringMatchIn } from './spec-types.js';

/** istio virtualservice.go `stringMatchConflict`: can `leaf` narrow `root`? */
function stringMatchConflict(root: StringMatchIn | undefined, leaf: StringMatchIn | undefined): boolean {
  if (root === undefined || leaf === undefined) return false;
  if (
    root.regex !== undefined &&
    (leaf.regex !== undefined || leaf.prefix !== undefined || leaf.exact !== undefined)
  )
    return true;
  if (
    leaf.regex !== undefined &&
    (root.regex !== undefined || root.prefix !== undefined || root.exact !== undefined)
  )
    return true;
  if (root.exact !== undefined) return leaf.prefix !== undefined || leaf.exact !== root.exact;
  if (root.prefix !== undefined) {
    if (leaf.prefix !== undefined) return !leaf.prefix.startsWith(root.prefix);
    if (leaf.exact !== undefined) return !leaf.exact.startsWith(root.prefix);
  }
  return true;
}

function mapConflict(
  root: Readonly<Record<string, StringMatchIn>> | undefined,
  leaf: Readonly<Record<string, StringMatchIn>> | undefined,
): boolean {
  for (const [k, v] of Object.entries(leaf ?? {})) if (stringMatchConflict(root?.[k], v)) return true;
  return false;
}

/** istio virtualservice.go `hasConflict`: the delegate match must be a subset of the root's. */
function hasConflict(root: HTTPMatchRequestIn, leaf: HTTPMatchRequestIn): boolean {
  if (
    stringMatchConflict(root.uri, leaf.uri) ||
    stringMatchConflict(root.scheme, leaf.scheme) ||
    stringMatchConflict(root.method, leaf.method) ||
    stringMatchConflict(root.authority, leaf.authority)
  ) {
    return true;
  }
  if (mapConflict(root.headers, leaf.headers) || mapConflict(root.withoutHeaders, leaf.withoutHeaders))
    return true;
  if (mapConflict(root.queryParams, leaf.queryParams)) return true;
  if ((root.ignoreUriCase ?? false) !== (leaf.ignoreUriCase ?? false)) return true;
  if (root.port !== undefined && leaf.port !== undefined && root.port !== leaf.port) return true;
  if (
    root.sourceNamespace !== undefined &&
    root.sourceNamespace !== '' &&
    leaf.sourceNamespace !== root.sourceNamespace
  )
    return true;
  for (const [k, v] of Object.entries(leaf.sourceLabels ?? {})) {
    const r = root.sourceLabels?.[k];
    if (r !== undefined && r !== v) return true;
  }
  if ((root.gateways?.length ?? 0) > 0 && (leaf.gateways?.length ?? 0) > 0) {
    if (!(leaf.gateways ?? []).every((g) => root.gateways?.includes(g) === true)) return true;
  }
  return false;
}

function joinName(root: string | undefined, leaf: string | undefined): string | undefined {
  if (leaf === undefined || leaf === '') return root;
  if (root === undefined || root === '') return leaf;
  return `${root}-${leaf}`;
}

function mergeMap<T>(
  root: Readonly<Record<string, T>> | undefined,
  leaf: Readonly<Record<string, T>> | undefined,
) {
  if (leaf === undefined) return root;
  if (root === undefined) return leaf;
  return { ...root, ...leaf };
}

/** istio `mergeHTTPMatchRequest`: fields the delegate leaves unset come from the root. */
function mergeMatch(root: HTTPMatchRequestIn, leaf: HTTPMatchRequestIn): HTTPMatchRequestIn {
  return {
    ...leaf,
    name: joinName(root.name, leaf.name),
    uri: leaf.uri ?? root.uri,
    scheme: leaf.scheme ?? root.scheme,
    method: leaf.method ?? root.method,
    authority: leaf.authority ?? root.authority,
    headers: mergeMap(root.headers, leaf.headers),
    withoutHeaders: mergeMap(root.withoutHeaders, leaf.withoutHeaders),
    queryParams: mergeMap(root.queryParams, leaf.queryParams),
    sourceLabels: mergeMap(root.sourceLabels, leaf.sourceLabels),
    port: leaf.port ?? root.port,
    sourceNamespace: leaf.sourceNamespace ?? root.sourceNamespace,
    gateways: leaf.gateways !== undefined && leaf.gateways.length > 0 ? leaf.gateways : root.gateways,
    ignoreUriCase: leaf.ignoreUriCase ?? root.ignoreUriCase,
  };
}

/** istio `mergeHTTPMatchRequests`: null means a conflict (the delegate rule is dropped). */
function mergeMatches(
  root: readonly HTTPMatchRequestIn[] | undefined,
  leaf: readonly HTTPMatchRequestIn[] | undefined,
): readonly HTTPMatchRequestIn[] | undefined | null {
  if (root === undefined || root.length === 0) return leaf;
  if (leaf === undefined || leaf.length === 0) return root;
  const out: HTTPMatchRequestIn[] = [];
  for (const sub of leaf) {
    let found = false;
    for (const r of root) {
      if (hasConflict(r, sub)) continue;
      out.push(mergeMatch(r, sub));
      found = true;
    }
    if (!found) return null;
  }
  return out.length === 0 ? null : out;
}

/**
 * Istio `mergeHTTPRoute` (pilot/pkg/model/virtualservice.go): the delegate's
 * matches are ANDed with the root's (a conflicting rule is dropped: null);
 * fields the delegate leaves unset (rewrite, timeout, retries, fault, mirror,
 * cors, headers) inherit the root's; names join as `root-leaf`.
 */
export function mergeHTTPRoute(root: HTTPRouteIn, leaf: HTTPRouteIn): HTTPRouteIn | null {
  const match = mergeMatches(root.match, leaf.match);
  if (match === null) return null;
  return {
    ...leaf,
    match,
    name: joinName(root.name, leaf.name),
    rewrite: leaf.rewrite ?? root.rewrite,
    directResponse:
      leaf.directResponse ??
      (leaf.route === undefined && leaf.redirect === undefined ? root.directResponse : undefined),
    timeout: leaf.timeout ?? root.timeout,
    retries: leaf.retries ?? root.retries,
    fault: leaf.fault ?? root.fault,
    mirror: leaf.mirror ?? root.mirror,
    mirrorPercentage: leaf.mirrorPercentage ?? root.mirrorPercentage,
    mirrors: leaf.mirrors ?? root.mirrors,
    corsPolicy: leaf.corsPolicy ?? root.corsPolicy,
    headers: leaf.headers ?? root.headers,
    delegate: undefined,
  };
}
