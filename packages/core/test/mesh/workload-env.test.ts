import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSources } from '../../src/mesh/config-sources.js';
import { parseLabelsFile, workloadFromEnv } from '../../src/mesh/workload-env.js';
import { useTmpDir } from '../helpers/tmp.js';

describe('parseLabelsFile', () => {
  it('reads key="value" lines as the downward API writes them, unquoting Go escapes', () => {
    const text = 'app="reviews"\nversion="v2"\npod-template-hash="7f9b"\nnote="say \\"hi\\""\n\nbroken\n';
    expect(parseLabelsFile(text)).toEqual({
      app: 'reviews',
      version: 'v2',
      'pod-template-hash': '7f9b',
      note: 'say "hi"',
    });
  });
});

describe('workloadFromEnv', () => {
  const tmp = useTmpDir();

  it('takes POD_NAME, POD_NAMESPACE, SERVICE_ACCOUNT and the labels file when nothing is given', async () => {
    const file = path.join(await tmp(), 'labels');
    await writeFile(file, 'app="reviews"\nversion="v1"\n');
    const env = {
      POD_NAME: 'reviews-v1-xyz',
      POD_NAMESPACE: 'bookinfo',
      SERVICE_ACCOUNT: 'bookinfo-reviews',
    };
    expect(workloadFromEnv(undefined, env, file)).toEqual({
      name: 'reviews-v1-xyz',
      namespace: 'bookinfo',
      serviceAccount: 'bookinfo-reviews',
      labels: { app: 'reviews', version: 'v1' },
    });
  });

  it('lets given fields win and falls back to the host name, default namespace and account', () => {
    expect(workloadFromEnv({ namespace: 'foo' }, {}, '/nonexistent/labels')).toEqual({
      name: hostname(),
      namespace: 'foo',
      serviceAccount: 'default',
      labels: {},
    });
  });
});

describe('configSources', () => {
  it('prefers the option, then MESHLET_CONFIG split on the path delimiter, else none', () => {
    expect(configSources('./mesh', { MESHLET_CONFIG: '/etc/x' })).toEqual(['./mesh']);
    expect(configSources(undefined, { MESHLET_CONFIG: ['/a', '/b'].join(path.delimiter) })).toEqual([
      '/a',
      '/b',
    ]);
    expect(configSources(undefined, {})).toEqual([]);
  });
});
