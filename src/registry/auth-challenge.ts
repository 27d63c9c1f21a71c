/**
 * `WWW-Authenticate` challenges of a registry's 401 answer (RFC 7235), read as docker/distribution's
 * registry/client/auth/challenge/authchallenge.go parseAuthHeader does: a scheme, then
 * `key=value` or `key="quoted value"` parameters separated by commas; a header may hold several
 * challenges, and a response several headers.
 */
export interface Challenge {
  /** lowercase: `bearer`, `basic` */
  scheme: string;
  /** parameter names lowercased: `realm`, `service`, `scope` */
  params: Record<string, string>;
}

export function parseChallenges(headers: string | string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const h of headers === undefined ? [] : Array.isArray(headers) ? headers : [headers]) {
    let i = 0;
    const s = h;
    const skipSpace = () => {
      while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
    };
    const token = () => {
      const m = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/.exec(s.slice(i));
      if (!m) return '';
      i += m[0].length;
      return m[0];
    };
    let current: Challenge | undefined;
    while (i < s.length) {
      skipSpace();
      if (s[i] === ',') {
        i++;
        continue;
      }
      const start = i;
      const name = token();
      if (!name) break;
      skipSpace();
      if (s[i] !== '=') {
        // A token not followed by `=` opens a new challenge (its scheme).
        current = { scheme: name.toLowerCase(), params: {} };
        out.push(current);
        continue;
      }
      i++;
      skipSpace();
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i++];
        }
        i++;
      } else {
        // Unquoted: a token by the RFC, but registries write URLs unquoted too; read up to the next comma.
        const m = /^[^,\s]*/.exec(s.slice(i))!;
        value = m[0];
        i += value.length;
      }
      if (!current) {
        i = start + name.length;
        break;
      }
      current.params[name.toLowerCase()] = value;
    }
  }
  return out;
}
