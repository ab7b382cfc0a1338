import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { main } from '../../packages/core/src/cli/main.js';
import type { CliIO } from '../../packages/core/src/cli/io.js';
import { istioConfigMap } from '../../packages/core/test/helpers/istio-config-map.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';

const VS = (subset: string) => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews, subset: ${subset} } }] }]
`;

function capture(): CliIO & { out: () => string } {
  let out = '';
  return {
    stdout: (t) => void (out += t),
    stderr: (t) => void (out += t),
    color: false,
    cwd: process.cwd(),
    out: () => out,
  };
}

const tmp = useTmpDir();
const open: Mesh[] = [];
afterEach(async () => {
  for (const m of open.splice(0)) await m.close();
});

describe('createMesh({ admin }) with meshlet proxy-status', () => {
  it('serves /server_info and /config_dump on loopback, and proxy-status reports SYNCED then STALE', async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, 'vs.yaml'), VS('v1'));
    const mesh = await createMesh({
      config: dir,
      workload: {
        name: 'productpage-v1',
        namespace: 'default',
        serviceAccount: 'pp',
        labels: { app: 'productpage' },
      },
      admin: { port: 0 },
    });
    open.push(mesh);
    expect(mesh.admin?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const info = (await (await fetch(`${mesh.admin!.url}/server_info`)).json()) as Record<string, unknown>;
    expect(JSON.stringify(info)).toContain('productpage-v1');
    const dump = (await (await fetch(`${mesh.admin!.url}/config_dump`)).json()) as { configHash: string };
    expect(dump.configHash).toMatch(/^[0-9a-f]{16}$/);

    const synced = capture();
    expect(await main(['proxy-status', mesh.admin!.url, '--config', dir], synced)).toBe(0);
    expect(synced.out()).toMatch(/SYNCED/);

    // The directory changes but the running mesh has not reloaded yet (or rejected it): STALE.
    const other = await tmp();
    await writeFile(path.join(other, 'vs.yaml'), VS('v2'));
    const stale = capture();
    await main(['proxy-status', mesh.admin!.url, '--config', other], stale);
    expect(stale.out()).toMatch(/STALE/);
  });

  it('shows the telemetry in force in /config_dump: sampling, provider, export target and header names', async () => {
    const dir = await tmp();
    await writeFile(
      path.join(dir, 'mesh.yaml'),
      `${istioConfigMap(`extensionProviders:
- name: otel
  opentelemetry:
    service: otel-collector.observability.svc.cluster.local
    port: 4318
    http:
      path: /v1/traces
      headers: [{ name: authorization, value: "Bearer s3cret" }]
defaultProviders:
  metrics: [prometheus]
  tracing: [otel]`)}apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing: [{ randomSamplingPercentage: 25 }]
`,
    );
    const mesh = await createMesh({
      config: dir,
      workload: {
        name: 'productpage-v1',
        namespace: 'default',
        serviceAccount: 'pp',
        labels: { app: 'productpage' },
      },
      admin: { port: 0 },
    });
    open.push(mesh);
    const dump = (await (await fetch(`${mesh.admin!.url}/config_dump`)).json()) as {
      telemetry: {
        tracing: {
          server: { samplingPercent: number; provider: string; export: Record<string, unknown> };
          exporters: string[];
        };
        metrics: { enabled: boolean };
      };
    };
    expect(dump.telemetry.metrics.enabled).toBe(true);
    expect(dump.telemetry.tracing.server).toMatchObject({
      samplingPercent: 25,
      provider: 'otel',
      export: {
        protocol: 'otlp-http',
        url: 'http://otel-collector.observability.svc.cluster.local:4318/v1/traces',
        headerNames: ['authorization'],
      },
    });
    expect(dump.telemetry.tracing.exporters).toEqual(['provider:otel']);
    expect(JSON.stringify(dump.telemetry)).not.toContain('s3cret');
  });
});
