import type { FieldPath } from '../../config/diagnostic.js';
import { arr, isObj, num, obj, str, type Obj } from '../read.js';

/** A VirtualService destination with where it sits (istio virtualservice/util.go AnnotatedDestination). */
export interface AnnotatedDestination {
  readonly kind: 'route' | 'mirror';
  readonly host: string;
  readonly subset: string;
  /** null when the destination names no port. */
  readonly port: number | null;
  /** Path of the destination object, for the message's line. */
  readonly path: FieldPath;
}

function annotate(kind: AnnotatedDestination['kind'], raw: unknown, path: FieldPath): AnnotatedDestination {
  const d: Obj = obj(raw);
  return {
    kind,
    host: str(d['host']),
    subset: str(d['subset']),
    port: isObj(d['port']) ? num(d['port']['number']) : null,
    path,
  };
}

/** `route[].destination` of every tcp, tls and http rule, in Istio's order. */
export function routeDestinations(spec: Obj): AnnotatedDestination[] {
  const out: AnnotatedDestination[] = [];
  for (const section of ['tcp', 'tls', 'http'] as const) {
    arr(spec[section]).forEach((rule, i) => {
      arr(obj(rule)['route']).forEach((rd, j) => {
        out.push(
          annotate('route', obj(rd)['destination'], ['spec', section, i, 'route', j, 'destination', 'host']),
        );
      });
    });
  }
  return out;
}

/** `http[].mirror` and `http[].mirrors[].destination`. */
export function mirrorDestinations(spec: Obj): AnnotatedDestination[] {
  const out: AnnotatedDestination[] = [];
  arr(spec['http']).forEach((rule, i) => {
    const r = obj(rule);
    if (isObj(r['mirror'])) out.push(annotate('mirror', r['mirror'], ['spec', 'http', i, 'mirror', 'host']));
    arr(r['mirrors']).forEach((m, j) => {
      out.push(
        annotate('mirror', obj(m)['destination'], ['spec', 'http', i, 'mirrors', j, 'destination', 'host']),
      );
    });
  });
  return out;
}
