/**
 * Go's `strconv.ParseBool`, which istiod uses for boolean annotations and environment
 * variables: true for 1, t, T, TRUE, true, True; false for 0, f, F, FALSE, false, False;
 * null for anything else (Go's "invalid syntax").
 */
export function parseGoBool(value: string): boolean | null {
  switch (value) {
    case '1':
    case 't':
    case 'T':
    case 'TRUE':
    case 'true':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'FALSE':
    case 'false':
    case 'False':
      return false;
    default:
      return null;
  }
}
