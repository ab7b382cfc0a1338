import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfigText } from '../../src/config/load.js';
import { resolveExtAuthzProvider } from '../../src/inbound/authz/ext-authz-provider.js';
import { istioConfigMap } from '../helpers/istio-config-map.js';
import { SAMPLES } from '../helpers/tmp.js';

const CUSTOM_POLICY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext-authz, namespace: foo }
spec:
  action: CUSTOM
  provider:
    name: sample-ext-authz-grpc
  rules: [{ to: [{ operation: { paths: ["/headers"] } }] }]
`;

function load(meshYaml: string, docs = '') {
  const snap = loadConfigText(`${istioConfigMap(meshYaml)}${docs}`, { file: 'mesh.yaml' });
  return {
    snap,
    found: snap.diagnostics.map((d) => `${d.level} ${d.code} ${d.line ?? '-'} ${d.path} ${d.message}`),
  };
}

describe('meshConfig extension providers', () => {
  it("accepts the istio.io ext-authz task's providers and resolves both kinds", () => {
    const { snap, found } = load(`
extensionProviders:
- name: "sample-ext-authz-grpc"
  envoyExtAuthzGrpc:
    service: "ext-authz.foo.svc.cluster.local"
    port: "9000"
- name: "sample-ext-authz-http"
  envoyExtAuthzHttp:
    service: "ext-authz.foo.svc.cluster.local"
    port: "8000"
    includeRequestHeadersInCheck: ["x-ext-authz"]`);
    expect(found).toEqual([]);
    expect(resolveExtAuthzProvider(snap.meshConfig, 'sample-ext-authz-grpc')).toMatchObject({
      kind: 'grpc',
      target: 'ext-authz.foo.svc.cluster.local:9000',
      authority: 'ext-authz.foo.svc.cluster.local',
      timeoutMs: 600_000,
      statusOnError: 403,
      failOpen: false,
    });
    expect(resolveExtAuthzProvider(snap.meshConfig, 'sample-ext-authz-http')).toMatchObject({
      kind: 'http',
      origin: 'http://ext-authz.foo.svc.cluster.local:8000',
    });
  });

  it('takes proto field names too, as istiod parses mesh config', () => {
    const { snap, found } = load(`
extensionProviders:
- name: grpc
  envoy_ext_authz_grpc: { service: authz.foo.svc.cluster.local, port: 9000, status_on_error: "503", fail_open: true, timeout: 0.25s }`);
    expect(found).toEqual([]);
    expect(resolveExtAuthzProvider(snap.meshConfig, 'grpc')).toMatchObject({
      kind: 'grpc',
      statusOnError: 503,
      failOpen: true,
      timeoutMs: 250,
    });
  });

  it("reports Istio's validation errors with the field, and the policy then fails closed", () => {
    const { snap, found } = load(`
extensionProviders:
- name: bad
  envoyExtAuthzGrpc:
    service: ""
    port: 70000
    statusOnError: "299"
    timeout: soon
    failOpne: true`);
    expect(found).toEqual([
      expect.stringMatching(
        /^Error IST0106 \d+ extensionProviders\[0\]\.envoyExtAuthzGrpc\.failOpne unknown field "failOpne" in envoyExtAuthzGrpc \(did you mean "failOpen"\?\)/,
      ),
      expect.stringMatching(/envoyExtAuthzGrpc\.service service must not be empty/),
      expect.stringMatching(/envoyExtAuthzGrpc\.port port must be in the range \[1, 65535\], found: 70000/),
      expect.stringMatching(/envoyExtAuthzGrpc\.statusOnError unsupported statusOnError value "299"/),
      expect.stringMatching(/envoyExtAuthzGrpc\.timeout timeout "soon" is not a positive duration/),
    ]);
    expect(resolveExtAuthzProvider(snap.meshConfig, 'bad')).toMatch(
      /^extension provider "bad": .*service must not be empty/,
    );
  });

  it('refuses a lone "*" header pattern and a pathPrefix without a slash, as istiod does', () => {
    const { found } = load(`
extensionProviders:
- name: http
  envoyExtAuthzHttp:
    service: authz.foo.svc.cluster.local
    port: 8000
    pathPrefix: check
    headersToUpstreamOnAllow: ["x-user", "*"]`);
    expect(found).toEqual([
      expect.stringMatching(
        /Error IST0106 \d+ extensionProviders\[0\]\.envoyExtAuthzHttp\.pathPrefix pathPrefix should begin with `\/`/,
      ),
      expect.stringMatching(/headersToUpstreamOnAllow\[1\] a single wildcard \("\*"\) is not supported/),
    ]);
  });

  it('reports an unknown provider type with a suggestion', () => {
    const { found } = load(`
extensionProviders:
- name: typo
  envoyExtAuthzGRPC: { service: a.b, port: 9000 }`);
    expect(found).toEqual([
      expect.stringMatching(
        /Error IST0106 \d+ extensionProviders\[0\]\.envoyExtAuthzGRPC unknown extension provider type "envoyExtAuthzGRPC" \(did you mean "envoyExtAuthzGrpc"\?\)/,
      ),
    ]);
  });

  it('honours the deprecated includeHeadersInCheck with a warning and reads includeRequestBodyInCheck', () => {
    const { snap, found } = load(`
extensionProviders:
- name: http
  envoyExtAuthzHttp:
    service: authz.foo.svc.cluster.local
    port: 8000
    includeHeadersInCheck: ["x-ext-authz"]
    includeRequestBodyInCheck: { maxRequestBytes: 4096 }`);
    expect(found).toEqual([
      expect.stringMatching(
        /^Warning IST0002 \d+ extensionProviders\[0\]\.envoyExtAuthzHttp\.includeHeadersInCheck includeHeadersInCheck is deprecated: use includeRequestHeadersInCheck/,
      ),
    ]);
    const p = resolveExtAuthzProvider(snap.meshConfig, 'http');
    expect(typeof p !== 'string' && p.body).toEqual({
      maxRequestBytes: 4096,
      allowPartialMessage: false,
      packAsBytes: false,
    });
    expect(
      typeof p !== 'string' && p.kind === 'http' && p.includeRequestHeaders.map((t) => t('x-ext-authz')),
    ).toEqual([true]);
  });

  it('warns, at the policy, about a CUSTOM provider that is not defined or not ext_authz', () => {
    const undefinedProvider = load('trustDomain: cluster.local', CUSTOM_POLICY);
    expect(undefinedProvider.found).toEqual([
      expect.stringMatching(
        /^Warning IST0101 14 spec\.provider\.name Referenced extension provider not found: "sample-ext-authz-grpc"\. Every request this CUSTOM policy's rules match is denied \(403\)/,
      ),
    ]);
    expect(undefinedProvider.snap.diagnostics[0]).toMatchObject({ file: 'mesh.yaml' });
    const zipkin = load(
      `
extensionProviders:
- name: sample-ext-authz-grpc
  zipkin: { service: zipkin.istio-system.svc.cluster.local, port: 9411 }`,
      CUSTOM_POLICY,
    );
    expect(zipkin.found).toEqual([
      expect.stringMatching(/is zipkin, not envoyExtAuthzHttp or envoyExtAuthzGrpc/),
    ]);
  });

  it("warns, at the policy, when istiod's LookupCluster would not find the provider's service", () => {
    // pilot/pkg/model/telemetry_logging.go LookupCluster: `<namespace>/<host>` must be in that
    // namespace, a bare host in exactly one; otherwise the provider is invalid and the
    // CUSTOM policy's requests are denied.
    const provider = (service: string) => `
extensionProviders:
- name: sample-ext-authz-grpc
  envoyExtAuthzGrpc: { service: ${JSON.stringify(service)}, port: 9000 }`;
    const service = (namespace: string) => `apiVersion: v1
kind: Service
metadata: { name: ext-authz, namespace: ${namespace} }
spec: { ports: [{ name: grpc, port: 9000 }] }
---
`;
    const entry = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: authz, namespace: foo }
spec: { hosts: [authz.example.internal], ports: [{ number: 9000, name: grpc, protocol: GRPC }], resolution: DNS }
---
`;
    const host = 'ext-authz.foo.svc.cluster.local';
    const warnings = (svc: string, docs: string) =>
      load(provider(svc), docs + CUSTOM_POLICY).snap.diagnostics.filter((d) => d.level === 'Warning');

    expect(warnings(host, service('foo'))).toEqual([]);
    expect(warnings(`foo/${host}`, service('foo'))).toEqual([]);
    expect(warnings('authz.example.internal', entry)).toEqual([]);

    const missing = warnings(host, service('bar'));
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatchObject({ code: 'IST0101', file: 'mesh.yaml', path: 'spec.provider.name' });
    expect(missing[0]!.message).toMatch(
      /names service "ext-authz\.foo\.svc\.cluster\.local", which no Service or ServiceEntry in the config defines\. istiod rejects such a provider and denies every request this CUSTOM policy's rules match; meshlet sends the checks directly by DNS, in plaintext/,
    );
    // The namespace form must name the namespace that defines it.
    expect(warnings(`bar/${host}`, service('foo'))).toHaveLength(1);
    expect(warnings('authz.example.internal', '')).toHaveLength(1);

    const ambiguous = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: authz, namespace: bar }
spec: { hosts: [authz.example.internal], ports: [{ number: 9000, name: grpc, protocol: GRPC }], resolution: DNS }
---
`;
    const both = warnings('authz.example.internal', entry + ambiguous);
    expect(both).toHaveLength(1);
    expect(both[0]!.message).toMatch(
      /defined in several namespaces \(bar, foo\)\. .*Name it as <namespace>\/<host>/,
    );
    expect(warnings('foo/authz.example.internal', entry + ambiguous)).toEqual([]);
  });

  it('checks every provider type against its fields in the proto, and says which tracing fields it does not apply', () => {
    const { snap, found } = load(`
extensionProviders:
- name: zipkin
  zipkin: { service: zipkin.istio-system.svc.cluster.local, port: 9411, max_tag_length: 256, pth: /spans }
- name: otel
  opentelemetry: { service: otel.observability.svc.cluster.local, port: 4317, resourceDetectors: { environment: {} } }`);
    expect(found).toEqual([
      expect.stringMatching(
        /^Info MESHLET0004 \d+ extensionProviders\[0\]\.zipkin\.max_tag_length zipkin maxTagLength is not applied by meshlet: span attributes are exported whole/,
      ),
      expect.stringMatching(
        /^Error IST0106 \d+ extensionProviders\[0\]\.zipkin\.pth unknown field "pth" in zipkin \(did you mean "path"\?\)/,
      ),
      expect.stringMatching(
        /^Info MESHLET0004 \d+ extensionProviders\[1\]\.opentelemetry\.resourceDetectors opentelemetry resourceDetectors is not applied/,
      ),
    ]);
    // Proto names are kept under their JSON names, which the readers use.
    expect(snap.meshConfig.extensionProviders[0]?.config).toEqual({
      service: 'zipkin.istio-system.svc.cluster.local',
      port: 9411,
      maxTagLength: 256,
    });
  });

  it('refuses an includeRequestBodyInCheck Envoy would reject, and says packAsBytes is gRPC-only', () => {
    const { snap, found } = load(`
extensionProviders:
- name: grpc
  envoyExtAuthzGrpc: { service: a.foo.svc.cluster.local, port: 9000, includeRequestBodyInCheck: { allowPartialMessage: true } }
- name: http
  envoyExtAuthzHttp:
    service: a.foo.svc.cluster.local
    port: 8000
    includeRequestBodyInCheck: { max_request_bytes: 10, pack_as_bytes: true, maxBytes: 3 }`);
    expect(found).toEqual([
      expect.stringMatching(
        /^Error IST0106 \d+ extensionProviders\[0\]\.envoyExtAuthzGrpc\.includeRequestBodyInCheck\.maxRequestBytes maxRequestBytes must be a whole number of bytes greater than 0/,
      ),
      expect.stringMatching(
        /^Error IST0106 \d+ extensionProviders\[1\]\.envoyExtAuthzHttp\.includeRequestBodyInCheck\.maxBytes unknown field "maxBytes" in includeRequestBodyInCheck/,
      ),
      expect.stringMatching(
        /^Info MESHLET0004 \d+ extensionProviders\[1\]\.envoyExtAuthzHttp\.includeRequestBodyInCheck\.packAsBytes packAsBytes only applies to envoyExtAuthzGrpc/,
      ),
    ]);
    expect(resolveExtAuthzProvider(snap.meshConfig, 'grpc')).toMatch(/maxRequestBytes must be/);
  });

  it("resolves Istio's builder test provider to what istiod hands Envoy (authz/http/custom-grpc-provider)", () => {
    // pilot/pkg/security/authz/builder/builder_test.go meshConfigGRPC, and the ext_authz
    // filter istiod builds from it (custom-grpc-provider-out2.yaml).
    const { snap, found } = load(`
extensionProviders:
- name: default
  envoyExtAuthzGrpc:
    service: foo/my-custom-ext-authz.foo.svc.cluster.local
    port: 9000
    timeout: 0.002s
    failOpen: true
    statusOnError: "403"
    includeRequestBodyInCheck: { maxRequestBytes: 4096, allowPartialMessage: true }`);
    expect(found).toEqual([]);
    const envoy = parseYaml(
      readFileSync(path.join(SAMPLES, 'authz/http/custom-grpc-provider-out2.yaml'), 'utf8'),
    ) as {
      typedConfig: {
        failureModeAllow: boolean;
        grpcService: { envoyGrpc: { authority: string; clusterName: string }; timeout: string };
        statusOnError: { code: string };
        withRequestBody: { allowPartialMessage: boolean; maxRequestBytes: number };
      };
    };
    const c = envoy.typedConfig;
    const p = resolveExtAuthzProvider(snap.meshConfig, 'default');
    expect(p).toMatchObject({
      kind: 'grpc',
      authority: c.grpcService.envoyGrpc.authority,
      target: `${c.grpcService.envoyGrpc.clusterName.split('|')[3]}:${c.grpcService.envoyGrpc.clusterName.split('|')[1]}`,
      timeoutMs: Number.parseFloat(c.grpcService.timeout) * 1000,
      failOpen: c.failureModeAllow,
      statusOnError: c.statusOnError.code === 'Forbidden' ? 403 : -1,
      body: {
        maxRequestBytes: c.withRequestBody.maxRequestBytes,
        allowPartialMessage: c.withRequestBody.allowPartialMessage,
        packAsBytes: false,
      },
    });
  });
});
