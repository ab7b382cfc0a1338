import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors/codes.js';
import { isMeshletError, MeshletError } from '../src/errors/meshlet-error.js';
import { DIAGNOSTIC_CODES } from '../src/config/diagnostic-codes.js';

const docs = path.resolve(import.meta.dirname, '../../../docs/errors.md');

describe('error catalogue', () => {
  it('documents every error code and no code that does not exist', async () => {
    const text = await readFile(docs, 'utf8');
    const documented = [...text.matchAll(/^\| `(MESHLET_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('documents every meshlet diagnostic code', async () => {
    const text = await readFile(docs, 'utf8');
    const documented = [...text.matchAll(/^\| `(MESHLET\d{4})` \|/gm)].map((m) => m[1]);
    const ours = Object.values(DIAGNOSTIC_CODES).filter((c) => c.startsWith('MESHLET'));
    expect(documented.sort()).toEqual([...ours].sort());
  });

  it('recognises meshlet errors by brand, with code and details', () => {
    const err = new MeshletError('MESHLET_ERR_CONFIG_INVALID', 'bad config', { count: 2 });
    expect(isMeshletError(err)).toBe(true);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('MESHLET_ERR_CONFIG_INVALID');
    expect(err.details).toEqual({ count: 2 });
    expect(isMeshletError(new Error('x'))).toBe(false);
    const foreign = Object.assign(new Error('from another copy'), { [Symbol.for('meshlet.error')]: true });
    expect(isMeshletError(foreign)).toBe(true);
  });
});
