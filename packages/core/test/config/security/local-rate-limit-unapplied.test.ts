import { describe, expect, it } from 'vitest';
import { formatPath } from '../../../src/config/diagnostic.js';
import { loadConfigText } from '../../../src/config/load.js';
import { localRateLimitYaml } from '../../helpers/local-rate-limit.js';
import { routeRateLimitYaml } from '../../helpers/local-rate-limit-route.js';

// What a local rate limit EnvoyFilter asks for that meshlet does not do is warned
// (MESHLET0004) at its field, never silently dropped (DESIGN.md "Istio is the spec").

function warnings(yaml: string): [string, string][] {
  const snap = loadConfigText(yaml, { file: 'ef.yaml' });
  expect(snap.diagnostics.filter((d) => d.level === 'Error')).toEqual([]);
  return snap.diagnostics.map((d) => [d.code, d.path]);
}

function messages(yaml: string): string[] {
  return loadConfigText(yaml).diagnostics.map((d) => d.message);
}

const at = (...path: (string | number)[]) => formatPath(['spec', 'configPatches', ...path]);

describe('local rate limit EnvoyFilter settings meshlet does not apply', () => {
  it('says nothing about the istio.io task’s filters', () => {
    expect(warnings(localRateLimitYaml())).toEqual([]);
    expect(warnings(routeRateLimitYaml())).toEqual([]);
  });

  it('warns for SIDECAR_OUTBOUND patches, once per patch, at their context', () => {
    const yaml = routeRateLimitYaml({ context: 'SIDECAR_OUTBOUND' });
    expect(warnings(yaml)).toEqual([
      ['MESHLET0004', at(0, 'match', 'context')],
      ['MESHLET0004', at(1, 'match', 'context')],
    ]);
    expect(messages(yaml)[0]).toMatch(
      /SIDECAR_OUTBOUND is not applied by meshlet: .*calls a workload makes are not rate limited/,
    );
  });

  it('warns for a GATEWAY route patch it cannot scope, and not for one scoped by portNumber', () => {
    // The task's patch names the sidecar virtual host inbound|http|9080.
    const named = routeRateLimitYaml({ context: 'GATEWAY' });
    expect(warnings(named)).toEqual([['MESHLET0004', at(1, 'match', 'routeConfiguration')]]);
    expect(messages(named)[0]).toMatch(/scoped by routeConfiguration.portNumber alone/);
    expect(
      warnings(routeRateLimitYaml({ context: 'GATEWAY', routeConfiguration: '{ portNumber: 8080 }' })),
    ).toEqual([]);
  });

  it('warns that proxy.proxyVersion and proxy.metadata are not evaluated', () => {
    const yaml = routeRateLimitYaml({
      filterMatch: String.raw`proxy: { proxyVersion: '^1\.8.*', metadata: { ISTIO_VERSION: "1.8.0" } }`,
    });
    expect(warnings(yaml)).toEqual([
      ['MESHLET0004', at(0, 'match', 'proxy', 'proxyVersion')],
      ['MESHLET0004', at(0, 'match', 'proxy', 'metadata')],
    ]);
    expect(messages(yaml)[0]).toMatch(/no Istio proxy version.*applies whatever the version/);
  });

  it('warns when an ANY patch names route configuration a sidecar’s inbound side does not have', () => {
    // Istio would apply it to the outbound route configuration "9080"; meshlet applies it nowhere.
    const yaml = routeRateLimitYaml({ context: 'ANY', routeConfiguration: '{ name: "9080" }' });
    expect(warnings(yaml)).toEqual([['MESHLET0004', at(1, 'match', 'routeConfiguration')]]);
    expect(messages(yaml)[0]).toMatch(/only on a sidecar’s inbound route/);
    // A SIDECAR_INBOUND patch that matches no inbound route does nothing in Istio either.
    expect(warnings(routeRateLimitYaml({ routeConfiguration: '{ name: "9080" }' }))).toEqual([]);
  });

  it('reports them at load with file and line', () => {
    const snap = loadConfigText(routeRateLimitYaml({ context: 'SIDECAR_OUTBOUND' }), { file: 'ef.yaml' });
    expect(snap.diagnostics.map((d) => [d.file, d.line])).toEqual([
      ['ef.yaml', 9],
      ['ef.yaml', 21],
    ]);
  });
});
