import { ExportResultCode } from '@opentelemetry/core';
import { describe, expect, it } from 'vitest';
import { reviewsCall } from '../access-log/fixtures.js';
import type { AccessLogEntry } from '../../../src/telemetry/access-log/entry.js';
import type { OtelAccessLogSpec } from '../../../src/telemetry/config/access-log-config.js';
import type { OtlpLogRecord } from '../../../src/telemetry/otel-access-log/logs-exporter.js';
import { createOtelAccessLog } from '../../../src/telemetry/otel-access-log/otel-access-log.js';

const SPEC: OtelAccessLogSpec = {
  kind: 'otel',
  provider: 'otel',
  service: 'observability/otel-collector.observability.svc.cluster.local',
  port: 4317,
  logName: 'otel_envoy_accesslog',
  text: '%REQ(:METHOD)% %RESPONSE_CODE%',
  labels: [['code', '%RESPONSE_CODE%']],
  filter: 'response.code >= 400',
};

const entry = (code: number): AccessLogEntry =>
  reviewsCall({
    startTime: 1_700_000_000_123.5,
    responseCode: code,
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  });

describe('createOtelAccessLog', () => {
  it("exports to the provider's host:port (namespace dropped) only the entries the filter accepts", async () => {
    const urls: string[] = [];
    const sent: OtlpLogRecord[] = [];
    const log = createOtelAccessLog(SPEC, {
      exporter: (url) => {
        urls.push(url);
        return {
          export: (records, done) => {
            sent.push(...records);
            done({ code: ExportResultCode.SUCCESS });
          },
          shutdown: () => Promise.resolve(),
        };
      },
    });
    expect(log.enabled).toBe(true);
    expect(log.problems).toEqual([]);
    log.log(entry(200));
    log.log(entry(503));
    await log.close();
    expect(urls).toEqual(['http://otel-collector.observability.svc.cluster.local:4317']);
    expect(sent).toHaveLength(1);
    const r = sent[0]!;
    expect(r.body).toBe('GET 503');
    expect(r.attributes).toEqual({ code: '503' });
    expect(r.hrTime).toEqual([1_700_000_000, 123_500_000]);
    expect(r.hrTimeObserved).toEqual([0, 0]);
    expect(r.spanContext?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(r.resource.attributes).toEqual({});
    expect(log.format(entry(404))).toBe('GET 404');
  });

  it('is off, with a problem, when the provider has no usable service or port; never throws', () => {
    const log = createOtelAccessLog({ ...SPEC, service: '', port: 0 });
    expect(log.enabled).toBe(false);
    expect(log.problems.map((p) => p.message)).toEqual([expect.stringMatching(/service is required/)]);
    expect(() => log.log(entry(500))).not.toThrow();
  });

  it('asks for request timing only when a format or the filter reads it', () => {
    expect(createOtelAccessLog(SPEC).needsTiming).toBe(false);
    expect(createOtelAccessLog({ ...SPEC, labels: [['d', '%RESPONSE_DURATION%']] }).needsTiming).toBe(true);
  });
});
