import { mkdir, symlink, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostic.js';
import { loadConfig, loadConfigText } from '../../src/config/load.js';
import { useTmpDir } from '../helpers/tmp.js';

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
`;

const tmp = useTmpDir();

describe('loadConfig', () => {
  it('loads every document of a multi-document file and skips non-Istio kinds with an info diagnostic', () => {
    const snap = loadConfigText(
      `${VS}---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v1
  namespace: bookinfo
spec: {}
---
`,
      { file: 'mesh/all.yaml' },
    );
    expect(snap.resources.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`)).toEqual([
      'VirtualService/default/reviews',
    ]);
    expect(snap.platform.map((p) => p.kind)).toEqual(['Deployment']);
    const info = snap.diagnostics.find((d) => d.code === 'MESHLET0003');
    expect(info).toMatchObject({ level: 'Info', file: 'mesh/all.yaml', line: 12 });
    expect(snap.diagnostics.filter((d) => d.level !== 'Info')).toEqual([]);
  });

  it('keeps a core Service for the service registry without calling it skipped', () => {
    const snap = loadConfigText(
      `apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: reviews-v1-abc, namespace: default }
`,
      { file: 'mesh/platform.yaml' },
    );
    expect(snap.platform.map((p) => p.kind)).toEqual(['Service', 'Pod']);
    expect(snap.diagnostics.map((d) => [d.code, d.line])).toEqual([['MESHLET0003', 6]]);
  });

  // Istio routes by Gateway API resources (pilot/pkg/config/kube/gateway turns an HTTPRoute into
  // the routes of the Service or Gateway it attaches to); meshlet applies none of them, which a
  // user who mounts the cluster's YAML must hear about, not find in an Info line.
  it('warns that Gateway API routes are not applied, and keeps a GatewayClass or ReferenceGrant at Info', () => {
    const snap = loadConfigText(
      `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews, namespace: default }
spec:
  parentRefs: [{ group: "", kind: Service, name: reviews, port: 9080 }]
  rules: [{ backendRefs: [{ name: reviews-v2, port: 9080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: public, namespace: istio-ingress }
spec: { gatewayClassName: istio, listeners: [{ name: http, port: 80, protocol: HTTP }] }
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: allow, namespace: default }
spec: {}
`,
      { file: 'mesh/gateway-api.yaml' },
    );
    expect(snap.platform.map((p) => p.kind)).toEqual(['HTTPRoute', 'Gateway', 'ReferenceGrant']);
    expect(snap.diagnostics.map((d) => [d.code, d.level, d.line])).toEqual([
      ['MESHLET0004', 'Warning', 1],
      ['MESHLET0004', 'Warning', 8],
      ['MESHLET0003', 'Info', 13],
    ]);
    const [route] = snap.diagnostics;
    expect(route?.message).toMatch(
      /HTTPRoute default\/reviews .*Kubernetes Gateway API.*not applied.*VirtualService/,
    );
  });

  it('reports a bad duration with file, line, column and field path', () => {
    const snap = loadConfigText(
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: api
spec:
  hosts: [api]
  http:
  - route:
    - destination:
        host: api
    retries:
      attempts: 3
      perTryTimeout: "3"
`,
      { file: 'mesh/api.yaml' },
    );
    expect(snap.resources).toEqual([]);
    const errors = snap.diagnostics.filter((d) => d.level === 'Error');
    expect(errors).toHaveLength(1);
    expect(formatDiagnostic(errors[0]!)).toMatch(
      /^mesh\/api\.yaml:13:7 spec\.http\[0\]\.retries\.perTryTimeout: "3" is not a duration \(use e\.g\. "3s"/,
    );
    expect(errors[0]!.resource).toEqual({ kind: 'VirtualService', namespace: 'default', name: 'api' });
  });

  it('collects every problem of a document instead of stopping at the first', () => {
    const snap = loadConfigText(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: api
spec:
  hosts: [api]
  http:
  - timeout: 1.5ms
    route:
    - destination:
        host: api
      weight: -1
  - timeout: soon
    route:
    - destination: {host: api}
`);
    const paths = snap.diagnostics.filter((d) => d.level === 'Error').map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['spec.http[0].timeout', 'spec.http[1].timeout']));
    expect(paths.length).toBeGreaterThanOrEqual(2);
  });

  it('reports cross-field rules even when a field rule failed in the same document', () => {
    const snap = loadConfigText(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api}
spec:
  hosts: [api]
  http:
  - route:
    - destination: {host: api, subset: v1}
      weight: 90
    - destination: {host: api, subset: v2}
      weight: -10
    retries:
      attempts: 3
      perTryTimeout: "3"
`);
    const byPath = Object.fromEntries(
      snap.diagnostics.filter((d) => d.level === 'Error').map((d) => [d.path, d.message]),
    );
    expect(byPath['spec.http[0].retries.perTryTimeout']).toMatch(/"3" is not a duration/);
    expect(byPath['spec.http[0].route[1].weight']).toMatch(/weight -10 < 0/);
  });

  it('says a number given for a duration is not a duration', () => {
    const snap = loadConfigText(VS.replace('  - route:', '  - timeout: 3\n    route:'));
    const d = snap.diagnostics.find((x) => x.level === 'Error');
    expect(d).toMatchObject({
      path: 'spec.http[0].timeout',
      message: '3 is not a duration (write it as a string, e.g. "3s")',
    });
  });

  it('names an unknown field and suggests the one that was meant', () => {
    const snap = loadConfigText(VS.replace('  hosts: [reviews]', '  hosts: [reviews]\n  exportto: ["."]'));
    const d = snap.diagnostics.find((x) => x.level === 'Error');
    expect(d?.path).toBe('spec.exportto');
    expect(d?.message).toContain('did you mean "exportTo"');
    expect(d?.line).toBe(7);
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    const bad = loadConfigText('kind: VirtualService\nmetadata:\n  name: a\n  name: b\n', { file: 'x.yaml' });
    expect(bad.diagnostics[0]).toMatchObject({
      code: 'MESHLET0002',
      level: 'Error',
      file: 'x.yaml',
      line: 4,
    });
    const broken = loadConfigText('apiVersion: v1\nkind: [unclosed\n');
    expect(broken.diagnostics[0]?.code).toBe('MESHLET0002');
  });

  it('expands Kubernetes List kinds', () => {
    const snap = loadConfigText(`apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1beta1
  kind: DestinationRule
  metadata: {name: r, namespace: bookinfo}
  spec: {host: reviews}
- apiVersion: networking.istio.io/v1alpha3
  kind: DestinationRule
  metadata: {name: d, namespace: bookinfo}
  spec: {host: details, trafficPolicy: {connectionPool: {tcp: {connectTimeout: nope}}}}
`);
    expect(snap.resources.map((r) => r.metadata.name)).toEqual(['r']);
    const err = snap.diagnostics.find((d) => d.level === 'Error');
    expect(err).toMatchObject({ path: 'spec.trafficPolicy.connectionPool.tcp.connectTimeout', line: 11 });
  });

  it('reads mesh config from the istio ConfigMap and applies Istio defaults elsewhere', () => {
    const snap = loadConfigText(`apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |-
    rootNamespace: mesh-root
    trustDomain: example.org
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
    defaultConfig:
      tracing:
        sampling: 25
`);
    expect(snap.meshConfig).toMatchObject({
      rootNamespace: 'mesh-root',
      trustDomain: 'example.org',
      outboundTrafficPolicy: 'REGISTRY_ONLY',
      tracingSampling: 25,
      pathNormalization: 'BASE',
      accessLogEncoding: 'TEXT',
      trustDomainAliases: [],
    });
    expect(snap.diagnostics.filter((d) => d.level === 'Error')).toEqual([]);
  });

  it('reads defaultConfig.tracing.sampling as istiod does: 0 and over 100 are 1 %', () => {
    // istio pilot/pkg/networking/core/tracing.go proxyConfigSamplingValue.
    const sampling = (v: string) =>
      loadConfigText(`apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |-
    defaultConfig:
      tracing:
        sampling: ${v}
`);
    expect(sampling('0').meshConfig.tracingSampling).toBe(1);
    expect(sampling('150').meshConfig.tracingSampling).toBe(1);
    expect(sampling('100').meshConfig.tracingSampling).toBe(100);
    expect(sampling('0.5').meshConfig.tracingSampling).toBe(0.5);
    expect(sampling('-1').diagnostics.map((d) => [d.level, d.path])).toEqual([
      ['Error', 'defaultConfig.tracing.sampling'],
    ]);
  });

  it('reads a standalone MeshConfig and reports a misspelt field at its line', () => {
    const snap = loadConfigText(
      'trustDomain: corp.local\npathNormalization:\n  normalization: MERGE_SLASHES\nrootNamespce: x\n',
      {
        file: 'mesh.yaml',
      },
    );
    expect(snap.meshConfig.trustDomain).toBe('corp.local');
    expect(snap.meshConfig.pathNormalization).toBe('MERGE_SLASHES');
    const err = snap.diagnostics.find((d) => d.level === 'Error');
    expect(err).toMatchObject({ line: 4, path: 'rootNamespce' });
    expect(err?.message).toContain('did you mean "rootNamespace"');
  });

  it('lets mesh config given in code win over the files', () => {
    const snap = loadConfigText('rootNamespace: from-file\ntrustDomain: file.local\n', {
      meshConfig: { trustDomain: 'code.local' },
    });
    expect(snap.meshConfig.rootNamespace).toBe('from-file');
    expect(snap.meshConfig.trustDomain).toBe('code.local');
  });

  it('warns on a duplicate name and keeps the later definition', () => {
    const snap = loadConfigText([
      { text: VS, file: 'a.yaml' },
      { text: VS.replace('host: reviews\n', 'host: reviews-v2\n'), file: 'b.yaml' },
    ]);
    expect(snap.resources).toHaveLength(1);
    expect(JSON.stringify(snap.resources[0]!.spec)).toContain('reviews-v2');
    expect(snap.diagnostics.find((d) => d.code === 'MESHLET0005')).toMatchObject({
      level: 'Warning',
      file: 'b.yaml',
    });
  });

  it('rejects an apiVersion the kind is not served at, and a missing name', () => {
    const snap = loadConfigText(
      VS.replace('networking.istio.io/v1', 'networking.istio.io/v2') +
        '---\n' +
        VS.replace('  name: reviews\n', '  labels: {a: b}\n'),
    );
    const errs = snap.diagnostics.filter((d) => d.level === 'Error');
    expect(errs.map((e) => e.path)).toEqual(['apiVersion', 'metadata.name']);
    expect(errs[0]!.message).toContain('networking.istio.io/v1');
  });

  it('freezes resources', () => {
    const snap = loadConfigText(VS);
    expect(Object.isFrozen(snap.resources[0]!.spec)).toBe(true);
    expect(Object.isFrozen(snap.resources)).toBe(true);
  });
});

describe('loadConfig from files', () => {
  it('reads directories recursively, only .yaml/.yml/.json, in a stable order', async () => {
    const dir = await tmp();
    await mkdir(path.join(dir, 'b', 'c'), { recursive: true });
    await writeFile(path.join(dir, 'z.yaml'), VS.replace('name: reviews', 'name: z'));
    await writeFile(path.join(dir, 'b', 'c', 'a.yml'), VS.replace('name: reviews', 'name: a'));
    await writeFile(
      path.join(dir, 'b', 'x.json'),
      JSON.stringify({
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'j' },
        spec: { host: 'j' },
      }),
    );
    await writeFile(path.join(dir, 'notes.txt'), 'not: config');
    await writeFile(path.join(dir, '.hidden.yaml'), 'broken: [');
    const snap = await loadConfig(dir);
    expect(snap.resources.map((r) => r.metadata.name)).toEqual(['a', 'j', 'z']);
    expect(snap.files.map((f) => path.relative(dir, f))).toEqual(['b/c/a.yml', 'b/x.json', 'z.yaml']);
    expect(snap.diagnostics).toEqual([]);
  });

  it('reports a missing file, an unreadable file and a symlink loop without throwing', async () => {
    const dir = await tmp();
    await mkdir(path.join(dir, 'loop'));
    await symlink('..', path.join(dir, 'loop', 'up'));
    await writeFile(path.join(dir, 'locked.yaml'), VS);
    await chmod(path.join(dir, 'locked.yaml'), 0o000);
    await symlink('self.yaml', path.join(dir, 'self.yaml'));
    const snap = await loadConfig([path.join(dir, 'missing.yaml'), dir]);
    const messages = snap.diagnostics.map((d) => `${d.code} ${d.level} ${d.message}`);
    expect(messages.some((m) => m.includes('missing.yaml: no such file or directory'))).toBe(true);
    expect(messages.some((m) => /symlink loop/.test(m))).toBe(true);
    if (process.getuid?.() !== 0) {
      expect(messages.some((m) => m.includes('permission denied'))).toBe(true);
    }
    expect(snap.diagnostics.every((d) => d.code === 'MESHLET0001' && d.level === 'Error')).toBe(true);
  });
});
