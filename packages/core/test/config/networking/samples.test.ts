import { describe, expect, it } from 'vitest';
import { errors, render, sampleDocs, validate, type SampleDoc } from './helpers.js';

/**
 * Analyzer test inputs that Istio feeds to one analyzer at a time, never through the
 * webhook (pkg/config/analysis/analyzers/analyzers_test.go): they are incomplete on
 * purpose and the webhook/CRD would reject them. Each entry names the rule that does.
 */
const NOT_WEBHOOK_VALID: Readonly<Record<string, string>> = {
  'analyzers/authorizationpolicies.yaml ServiceEntry istio':
    'hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode DNS',
  'analyzers/conflicting-gateways-invalid-port.yaml Gateway beta': 'spec.servers[0].port: Required value',
  'analyzers/conflicting-gateways-invalid-port.yaml Gateway alpha': 'spec.servers[0].port: Required value',
  'analyzers/conflicting-gateways-multiple-ports.yaml Gateway beta': 'port names in servers must be unique',
  'analyzers/conflicting-gateways-multiple-ports.yaml Gateway alpha': 'port names in servers must be unique',
  'analyzers/deprecation.yaml VirtualService productpage':
    'HTTP route, redirect or direct_response is required',
  'analyzers/gateway-no-workload.yaml Gateway httpbin-gateway': 'gateway must have at least one server',
  'analyzers/virtualservice_destinationhosts.yaml ServiceEntry service-entry-ignore':
    'hostname cannot be wildcard',
  'analyzers/virtualservice_destinationhosts.yaml VirtualService reviews-bogushost':
    'spec.http[0].route[0].destination: Required value',
  'analyzers/virtualservice_gateways.yaml Gateway httpbin-gateway': 'gateway must have at least one server',
  'analyzers/virtualservice_gateways.yaml Gateway crossnamespace-gw': 'gateway must have at least one server',
  'analyzers/virtualservice_gateways.yaml VirtualService httpbin': 'http, tcp or tls must be provided',
  'analyzers/virtualservice_gateways.yaml VirtualService httpbin-bogus': 'http, tcp or tls must be provided',
  'analyzers/virtualservice_gateways.yaml VirtualService httpbin-mesh': 'http, tcp or tls must be provided',
  'analyzers/virtualservice_gateways.yaml VirtualService cross-test': 'http, tcp or tls must be provided',
  'analyzers/virtualservice_host_not_found_gateway.yaml Gateway testing-gateway-01-test-04':
    'port names in servers must be unique',
  'analyzers/virtualservice_host_not_found_gateway_beta.yaml Gateway testing-gateway-01-test-04':
    'port names in servers must be unique',
  // Gateway-API generated names (`gateway~...`) are only legal with internal gateway semantics.
  'analyzers/virtualservice_internal_gateway_ref.yaml VirtualService httpbin':
    'invalid value for gateway name',
  // `[1.2.3.4, 001:db8::]`: the `yaml` package reads `001:db8::` in a flow list as a map, where
  // Kubernetes' go-yaml reads a string. A parser difference (reported to the loader), not a rule.
  'validation/serviceentry-valid.yaml ServiceEntry full': 'spec.addresses[1]: expected a string',
};

const key = (d: SampleDoc): string => `${d.file} ${d.kind} ${d.name}`;
const all = sampleDocs((f) => !f.endsWith('-invalid.yaml'));
const valid = all.filter((d) => NOT_WEBHOOK_VALID[key(d)] === undefined);
const analyzerOnly = all.filter((d) => NOT_WEBHOOK_VALID[key(d)] !== undefined);
const invalid = sampleDocs((f) =>
  /validation\/(destinationrule|serviceentry|workloadentry|workloadgroup)-invalid\.yaml$/.test(f),
);

// Kubernetes prints `<path>: <reason>` or `<path> <reason>`; compare either way.
function mentions(found: readonly string[], expected: string): boolean {
  const norm = (s: string): string => s.toLowerCase().replace(/: /g, ' ');
  return found.some((m) => norm(m).includes(norm(expected)));
}

describe('networking kinds over Istio samples', () => {
  it('finds every networking document of the samples', () => {
    expect(valid.length).toBeGreaterThanOrEqual(250);
    expect(Object.keys(NOT_WEBHOOK_VALID)).toHaveLength(analyzerOnly.length);
    expect(invalid).toHaveLength(3 + 12 + 7 + 3);
  });

  it.each(valid.map((d) => [`${key(d)} (#${d.index})`, d] as const))(
    'accepts %s with no error',
    (_label, d) => {
      expect(errors(validate(d.kind, d.spec, d.namespace)).map(render)).toEqual([]);
    },
  );

  it.each(analyzerOnly.map((d) => [key(d), d] as const))(
    'rejects analyzer-only input %s for its known rule',
    (_l, d) => {
      const found = errors(validate(d.kind, d.spec, d.namespace)).map(render);
      expect(mentions(found, NOT_WEBHOOK_VALID[key(d)] ?? ''), found.join('\n')).toBe(true);
    },
  );

  it.each(invalid.map((d) => [`${key(d)}: ${d.err ?? ''}`, d] as const))('rejects %s', (_label, d) => {
    const found = errors(validate(d.kind, d.spec, d.namespace)).map(render);
    expect(found.length).toBeGreaterThan(0);
    expect(mentions(found, d.err ?? ''), found.join('\n')).toBe(true);
  });
});
