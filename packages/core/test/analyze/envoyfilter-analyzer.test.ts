import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfigText } from '../../src/config/load.js';

const run = (yaml: string) =>
  analyze(loadConfigText(yaml, { file: 'ef.yaml' }), {
    analyzers: ['envoyfilter.EnvoyPatchAnalyzer'],
    includeLoaderFindings: false,
  });

const filter = (priority: string, patches: string) => `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: lua
  namespace: shop
spec:
${priority}  configPatches:
${patches}
`;

const insertBefore = (name: string) => `  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
    patch:
      operation: INSERT_BEFORE
      value:
        name: ${name}
`;

// istio pkg/config/analysis/analyzers/envoyfilter/envoyfilter.go; messages.yaml IST0151..IST0155.
describe('envoyfilter.EnvoyPatchAnalyzer', () => {
  it('warns once per EnvoyFilter about relative operations without a priority, at the resource line', () => {
    const ms = run(filter('', insertBefore('a') + insertBefore('b')));
    expect(ms.map((m) => [m.code, m.level, m.reference, m.message])).toEqual([
      [
        'IST0151',
        'Warning',
        'ef.yaml:1',
        'This EnvoyFilter does not have a priority and has a relative patch operation set which can cause the EnvoyFilter not to be applied. Using the INSERT_FIRST of ADD option or setting the priority may help in ensuring the EnvoyFilter is applied correctly.',
      ],
    ]);
    expect(run(filter('  priority: 10\n', insertBefore('a')))).toEqual([]);
  });

  it('reports ADD on a route configuration as an error', () => {
    const add = `  - applyTo: HTTP_ROUTE
    patch:
      operation: ADD
      value:
        name: extra
`;
    expect(run(filter('', add)).map((m) => [m.code, m.level, m.message])).toEqual([
      [
        'IST0153',
        'Error',
        'The ADD operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.',
      ],
    ]);
  });
});
