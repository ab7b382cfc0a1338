import { describe, expect, it } from 'vitest';
import { compileHeaders } from '../../src/compile/route-policies.js';

// istio route.go TranslateHeadersOperations: translateAppendHeaders reports a host/:authority
// key from request `add` as well as `set`; the authority rewrite is the `add` one unless `set`
// has one ("If authority is set in 'add' and 'set', pick the one from 'set'"). The header
// itself is never added (isInternalHeader).
describe('compileHeaders authority', () => {
  it('treats request.add host as an authority rewrite', () => {
    const h = compileHeaders({ request: { add: { host: 'added.example', 'x-a': '1' } } });
    expect(h?.authorityRewrite).toBe('added.example');
    expect(h?.request?.add).toEqual([['x-a', '1']]);
  });

  it('treats request.add :authority as an authority rewrite', () => {
    expect(compileHeaders({ request: { add: { ':authority': 'a.example' } } })?.authorityRewrite).toBe(
      'a.example',
    );
  });

  it('prefers request.set over request.add', () => {
    const h = compileHeaders({ request: { set: { Host: 'set.example' }, add: { host: 'added.example' } } });
    expect(h?.authorityRewrite).toBe('set.example');
  });

  it('ignores an empty request.set host (route.go rewrites only a non-empty authority)', () => {
    const h = compileHeaders({ request: { set: { host: '' }, add: { host: 'added.example' } } });
    expect(h?.authorityRewrite).toBe('added.example');
  });
});
