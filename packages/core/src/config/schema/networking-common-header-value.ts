/**
 * Envoy's custom header value syntax as Istio's webhook checks it
 * (istio pkg/config/validation/header_value_validator.go): literal text, `%%` for a
 * percent sign, and `%VAR%` / `%VAR(args)%` / `%VAR(["a","b"])%` substitutions.
 * Returns a message or null.
 */
export function checkHeaderValueSyntax(value: string): string | null {
  type State = 'literal' | 'name' | 'array?' | 'string?' | 'string' | 'delim' | 'argsEnd' | 'varEnd';
  let state: State = 'literal';
  for (let pos = 0; pos < value.length; pos++) {
    const ch = value[pos];
    const hasNext = pos + 1 < value.length;
    switch (state) {
      case 'literal':
        if (ch !== '%') break;
        if (!hasNext) return 'invalid header configuration. Un-escaped %';
        if (value[pos + 1] === '%') pos++;
        else state = 'name';
        break;
      case 'name':
        if (ch === '%') state = 'literal';
        else if (ch === '(') state = 'array?';
        break;
      case 'array?':
        if (ch === '[') state = 'string?';
        else if (ch !== ' ') state = 'string';
        break;
      case 'delim':
        if (ch === ',') state = 'string?';
        else if (ch === ']') state = 'argsEnd';
        else if (ch !== ' ') return "invalid header configuration. Expecting ',', ']', or whitespace";
        break;
      case 'string?':
        if (ch === '"') state = 'string';
        else if (ch !== ' ') return "invalid header configuration. Expecting '\"'";
        break;
      case 'string':
        if (ch === '\\') {
          if (!hasNext) return 'invalid header configuration. Un-terminated backslash in JSON string';
          pos++;
        } else if (ch === ')') state = 'varEnd';
        else if (ch === '"') state = 'delim';
        break;
      case 'argsEnd':
        if (ch === ')') state = 'varEnd';
        else if (ch !== ' ') return "invalid header configuration. Expecting ')' or whitespace";
        break;
      case 'varEnd':
        if (ch === '%') state = 'literal';
        else if (ch !== ' ') return "invalid header configuration. Expecting '%' or whitespace after";
        break;
    }
  }
  return state === 'literal'
    ? null
    : `invalid header configuration. Un-terminated variable expression '${value}'`;
}
