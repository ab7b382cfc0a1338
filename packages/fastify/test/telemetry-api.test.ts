import Fastify from 'fastify';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMesh } from '../../core/src/index.js';
import { useCleanup } from '../../core/test/helpers/cleanup.js';
import { istioConfigMap } from '../../core/test/helpers/istio-config-map.js';
import { lineCollector, linesBeyond } from '../../core/test/helpers/line-collector.js';
import { useTmpDir } from '../../core/test/helpers/tmp.js';
import { send } from '../../core/test/telemetry/mesh-app.js';
import { samples } from '../../core/test/telemetry/metrics-support.js';
import { meshlet } from '../src/index.js';

const tmp = useTmpDir();
const cleanup = useCleanup();

const WORKLOAD = {
  name: 'reviews-v2',
  namespace: 'default',
  serviceAccount: 'bookinfo-reviews',
  labels: { app: 'reviews', version: 'v2' },
};

// The same YAML through istiod (pilot/pkg/model/telemetry.go): the metrics go to
// `my-prom`, a prometheus-typed provider, so the stats filter is built (
// buildHTTPTelemetryFilter switches on the provider type, not its name); both
// workload Telemetries select reviews-v2 and both apply (applicableTelemetries appends
// every match), one through `customMetric: requests_total`, the stats filter's name for
// REQUEST_COUNT; the accessLogging entry disables no provider (none named, no
// defaultProviders), so AccessLogging returns nothing and accesslog.go keeps the legacy
// accessLogFile.
const telemetry = (name: string, spec: string) => `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ${name}, namespace: ${name === 'mesh-default' ? 'istio-system' : 'default'} }
spec:
${spec}---
`;
const YAML = `${istioConfigMap(`accessLogFile: /dev/stdout
accessLogEncoding: JSON
extensionProviders:
- name: my-prom
  prometheus: {}`)}${telemetry(
  'mesh-default',
  `  metrics:
  - providers: [{ name: my-prom }]
  accessLogging:
  - disabled: true
`,
)}${telemetry(
  'by-app',
  `  selector: { matchLabels: { app: reviews } }
  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT, mode: SERVER }
      tagOverrides: { team: { value: "'payments'" } }
`,
)}${telemetry(
  'by-version',
  `  selector: { matchLabels: { version: v2 } }
  metrics:
  - overrides:
    - match: { customMetric: requests_total }
      tagOverrides: { track: { value: "'canary'" } }
`,
)}`;

// model/telemetry_logging.go fileAccessLogFromTelemetry hands omitEmptyValues to Envoy:
// null keys are left out of a JSON line.
const OMIT = `${istioConfigMap(`extensionProviders:
- name: json-omit
  envoyFileAccessLog:
    path: /dev/stdout
    omitEmptyValues: true
    logFormat:
      labels: { path: "%REQ(:PATH)%", user: "%REQ(X-USER)%", code: "%RESPONSE_CODE%" }`)}${telemetry(
  'mesh-default',
  `  accessLogging:
  - providers: [{ name: json-omit }]
`,
)}`;

async function serve(yaml: string) {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), yaml);
  const lines: string[] = [];
  const mesh = cleanup.mesh(
    await createMesh({
      config: dir,
      workload: WORKLOAD,
      telemetry: { otlp: false, accessLogSink: { stream: lineCollector(lines) } },
    }),
  );
  const app = Fastify();
  await app.register(meshlet, { mesh });
  app.get('/reviews/1', () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  return { mesh, app, lines, port };
}

describe('@meshlet/fastify with the Telemetry API', () => {
  it('scrapes a custom-named prometheus provider with every matching Telemetry and keeps the legacy log', async () => {
    const { mesh, app, lines, port } = await serve(YAML);
    try {
      expect(await send(port, { path: '/reviews/1' })).toBe(200);
      await linesBeyond(lines, 0);
      expect(JSON.parse(lines[0]!)).toMatchObject({ path: '/reviews/1', response_code: 200 });
      const rows = await samples(mesh.metrics!, 'istio_requests_total');
      expect(rows.map((r) => [r.labels['reporter'], r.labels['team'], r.labels['track'], r.value])).toEqual([
        ['destination', 'payments', 'canary', 1],
      ]);
    } finally {
      await app.close();
    }
  });

  it('leaves unset values out of a JSON line for a provider with omitEmptyValues', async () => {
    const { app, lines, port } = await serve(OMIT);
    try {
      expect(await send(port, { path: '/reviews/1' })).toBe(200);
      await linesBeyond(lines, 0);
      expect(lines).toEqual(['{"code":200,"path":"/reviews/1"}']);
    } finally {
      await app.close();
    }
  });
});
