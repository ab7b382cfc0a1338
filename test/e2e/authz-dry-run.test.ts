import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import express from 'express';
import Fastify from 'fastify';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh, type MeshReloadEvent } from '../../packages/core/src/index.js';
import { istioConfigMap } from '../../packages/core/test/helpers/istio-config-map.js';
import { lineCollector, linesBeyond } from '../../packages/core/test/helpers/line-collector.js';
import { ISTIO_UNIT_LINT, promtool } from '../../packages/core/test/helpers/promtool.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { meshlet as meshletExpress } from '../../packages/express/src/index.js';
import { meshlet as meshletFastify } from '../../packages/fastify/src/index.js';

// istio.io's "Dry Run" authorization task (tasks/security/authorization/authz-dry-run): a
// DENY policy for /headers annotated `istio.io/dry-run: "true"` is evaluated, never
// enforced. The sidecar shows its verdict in the RBAC filter's dynamic metadata, which the
// access log reads (`%DYNAMIC_METADATA(envoy.filters.http.rbac:...)%`), and in the SERVER
// span's `istio.authorization.dry_run.*` tags (pilot/pkg/networking/core/tracing.go
// optionalPolicyTags). Real Fastify and Express services, a real client, spans in memory.
const FIELDS = [
  'deny_result=%DYNAMIC_METADATA(envoy.filters.http.rbac:istio_dry_run_deny_shadow_engine_result)%',
  'deny_policy=%DYNAMIC_METADATA(envoy.filters.http.rbac:istio_dry_run_deny_shadow_effective_policy_id)%',
  'allow_result=%DYNAMIC_METADATA(envoy.filters.http.rbac:istio_dry_run_allow_shadow_engine_result)%',
  'hint=%DYNAMIC_METADATA(envoy.common:access_log_hint)%',
  'cel=%CEL(metadata.filter_metadata["envoy.filters.http.rbac"].istio_dry_run_deny_shadow_engine_result)%',
].join(' | ');

const CONFIG = `${istioConfigMap(`extensionProviders:
- name: dry-run-log
  envoyFileAccessLog:
    path: /dev/stdout
    logFormat:
      text: ${JSON.stringify(`${FIELDS}\n`)}`)}apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  accessLogging:
  - providers: [{ name: dry-run-log }]
  tracing:
  - randomSamplingPercentage: 100
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-path-headers
  namespace: foo
  annotations:
    "istio.io/dry-run": "true"
spec:
  selector:
    matchLabels:
      app: httpbin
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/headers"]
`;

const tmp = useTmpDir();
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

interface Httpbin {
  readonly base: string;
  readonly dir: string;
  readonly mesh: Mesh;
  readonly lines: string[];
  readonly exporter: InMemorySpanExporter;
}

async function httpbinMesh(extra = ''): Promise<Omit<Httpbin, 'base'>> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), CONFIG + extra);
  const lines: string[] = [];
  const exporter = new InMemorySpanExporter();
  const mesh = await createMesh({
    config: dir,
    workload: { name: 'httpbin-1', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
    telemetry: {
      otlp: false,
      accessLogSink: { stream: lineCollector(lines) },
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    },
    debounceMs: 10,
  });
  closers.push(() => mesh.close());
  return { dir, mesh, lines, exporter };
}

const servers = {
  async fastify(extra = ''): Promise<Httpbin> {
    const m = await httpbinMesh(extra);
    const app = Fastify();
    await app.register(meshletFastify, { mesh: m.mesh });
    app.get('/headers', () => ({ headers: {} }));
    app.get('/ip', () => ({ origin: '127.0.0.1' }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    return { ...m, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
  },
  async express(extra = ''): Promise<Httpbin> {
    const m = await httpbinMesh(extra);
    const app = express();
    app.use(meshletExpress({ mesh: m.mesh }));
    app.get('/headers', (_req, res) => res.json({ headers: {} }));
    app.get('/ip', (_req, res) => res.json({ origin: '127.0.0.1' }));
    const server = await m.mesh.listen(app, 0, '127.0.0.1');
    closers.push(() => new Promise((r) => server.close(r)));
    return { ...m, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  },
};

const fieldsOf = (line: string): Record<string, string> =>
  Object.fromEntries(
    line.split(' | ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );

/** GETs `p` and returns its status, its access-log fields and its SERVER span. */
async function call(
  h: Httpbin,
  p: string,
): Promise<{ status: number; log: Record<string, string>; span: ReadableSpan }> {
  const before = h.lines.length;
  h.exporter.reset();
  const res = await fetch(`${h.base}${p}`);
  await res.arrayBuffer();
  await linesBeyond(h.lines, before);
  await h.mesh.telemetry!.tracing.forceFlush();
  const spans = h.exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
  expect(spans).toHaveLength(1);
  return { status: res.status, log: fieldsOf(h.lines[before]!), span: spans[0]! };
}

describe.each(['fastify', 'express'] as const)('the istio.io dry-run task (%s)', (kind) => {
  it('lets /headers through and reports that the policy would have denied it', async () => {
    const h = await servers[kind]();
    const r = await call(h, '/headers');
    expect(r.status).toBe(200);
    expect(r.log).toEqual({
      deny_result: 'denied',
      deny_policy: 'ns[foo]-policy[deny-path-headers]-rule[0]',
      allow_result: '-',
      hint: '-',
      cel: 'denied',
    });
    expect(r.span.attributes).toMatchObject({
      'istio.authorization.dry_run.deny_policy.name': 'ns[foo]-policy[deny-path-headers]-rule[0]',
      'istio.authorization.dry_run.deny_policy.result': 'denied',
    });
    expect(r.span.attributes['istio.authorization.dry_run.allow_policy.result']).toBeUndefined();
  });

  it('reports allowed, without a policy, for a path the policy does not match', async () => {
    const h = await servers[kind]();
    const r = await call(h, '/ip');
    expect(r.status).toBe(200);
    expect(r.log).toMatchObject({ deny_result: 'allowed', deny_policy: '-' });
    expect(r.span.attributes['istio.authorization.dry_run.deny_policy.result']).toBe('allowed');
    expect(r.span.attributes['istio.authorization.dry_run.deny_policy.name']).toBeUndefined();
  });

  it('keeps the dry-run verdict on a request an enforced policy refuses, with AUDIT’s hint', async () => {
    const h = await servers[kind](`---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-ip, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: ALLOW
  rules: [{ to: [{ operation: { paths: ["/ip"] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: audit-all, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: AUDIT
  rules: [{}]
`);
    const r = await call(h, '/headers');
    expect(r.status).toBe(403);
    expect(r.log).toEqual({
      deny_result: 'denied',
      deny_policy: 'ns[foo]-policy[deny-path-headers]-rule[0]',
      allow_result: '-',
      hint: 'true',
      cel: 'denied',
    });
    expect(r.span.attributes['istio.authorization.dry_run.deny_policy.result']).toBe('denied');
  });
});

/** The samples of `family` in the mesh's exposition, `{labels} value` each, sorted. */
async function samples(mesh: Mesh, family: string): Promise<string[]> {
  const text = await mesh.metrics!.metrics();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${family}{`) || l.startsWith(`${family} `))
    .map((l) => l.slice(family.length))
    .sort();
}

describe("Envoy's RBAC stats, as istiod's bootstrap exposes them", () => {
  it('counts the dry-run verdicts per inbound chain: inbound_0.0.0.0_<port>, or the passthrough chain', async () => {
    const h = await servers.fastify(`---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-some, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: ALLOW
  rules: [{ to: [{ operation: { paths: ["/headers", "/ip"] } }] }]
`);
    const port = Number(new URL(h.base).port);
    // The task's loop: 20 requests to /headers, each let through.
    for (let i = 0; i < 20; i++) expect((await fetch(`${h.base}/headers`)).status).toBe(200);
    expect((await fetch(`${h.base}/status/418`)).status).toBe(403);
    // pkg/bootstrap/config.go keeps rbac.allowed/denied and shadow_allowed/denied; the
    // bootstrap's tag regexes make labels of their name parts. The DENY filter (all its
    // policies dry-run) has no enforced rules, so only the ALLOW filter counts allowed.
    // With no Service in the config, meshlet takes httpbin's own to target the port, so
    // the request has the port's chain (listener_inbound.go StatPrefix).
    const chain = `envoy_http_inbound_0_0_0_0_${port}_rbac`;
    const first = [
      '{authz_dry_run_action="deny",authz_dry_run_result="allowed"} 1',
      '{authz_dry_run_action="deny",authz_dry_run_result="denied"} 20',
      '{authz_enforce_result="allowed"} 20',
      '{authz_enforce_result="denied"} 1',
    ];
    expect(await samples(h.mesh, chain)).toEqual(first);
    expect(await h.mesh.metrics!.metrics()).toContain(`# TYPE ${chain} counter`);
    // Envoy's names, which promtool's lint would have end in _total on a sidecar too: lint
    // findings (exit 3), no parse error.
    const checked = await promtool(await h.mesh.metrics!.metrics());
    expect(checked.code).toBe(3);
    expect(checked.findings.sort()).toEqual([
      `${chain} counter metrics should have "_total" suffix`,
      ISTIO_UNIT_LINT,
    ]);

    // httpbin's Service targets another port: this one has no chain of its own, and its
    // requests take the passthrough chain, whose stat prefix is the cluster's name.
    const reloaded = new Promise<MeshReloadEvent>((r) => h.mesh.on('reload', r));
    await writeFile(
      path.join(h.dir, 'service.yaml'),
      `apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: foo }
spec: { selector: { app: httpbin }, ports: [{ name: http, port: 8000, targetPort: 8080 }] }
`,
    );
    await reloaded;
    expect((await fetch(`${h.base}/ip`)).status).toBe(200);
    expect(await samples(h.mesh, 'envoy_http_InboundPassthroughCluster_rbac')).toEqual([
      '{authz_dry_run_action="deny",authz_dry_run_result="allowed"} 1',
      '{authz_enforce_result="allowed"} 1',
    ]);
    expect(await samples(h.mesh, chain)).toEqual(first);
  });
});
