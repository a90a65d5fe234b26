// Endpoint addresses as users write them (issue 10): `host:port`, `[v6]:port`, or a URL
// `http://host:port` / `https://host:port` as etcd users pass them (the scheme: endpointScheme). Every form becomes the canonical `host:port`
// (`[v6]:port` for IPv6), the form nodes use in their leader hints, so a hinted leader is recognised
// as one of the given endpoints.

/** Thrown for an endpoint that cannot be used; the message says what was expected. */
export class EndpointError extends RangeError {
  override readonly name = 'EndpointError';
}

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+(?:%[\w.-]+)?\]|[^\s:/[\]@?#]+):(\d{1,5})$/;

/** The scheme an endpoint was written with: 'https', 'http', or null for a bare host:port. */
export function endpointScheme(text: string): 'http' | 'https' | null {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text.trim());
  const s = m?.[1]?.toLowerCase();
  return s === 'https' ? 'https' : s === 'http' ? 'http' : null;
}

/** `https://h:p`, `http://h:p`, `h:p` or `[v6]:p` → canonical `h:p` / `[v6]:p`; throws EndpointError otherwise. */
export function normalizeEndpoint(text: string): string {
  const raw = text.trim();
  let rest = raw;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(raw);
  if (scheme !== null) {
    const s = scheme[1]!.toLowerCase();
    if (s !== 'http' && s !== 'https')
      throw new EndpointError(
        `endpoint '${raw}': unsupported scheme '${s}://' (use https://host:port, http://host:port or host:port)`,
      );
    rest = raw.slice(scheme[0].length).replace(/\/$/, '');
    if (/[/?#@]/.test(rest))
      throw new EndpointError(`endpoint '${raw}': give only ${s}://host:port (no path, query or user)`);
  }
  const m = HOST_PORT.exec(rest);
  if (m === null) {
    const hint = /^[0-9A-Fa-f]*:[0-9A-Fa-f]*:/.test(rest) ? ' (write an IPv6 address in brackets: [::1]:7001)' : '';
    throw new EndpointError(`endpoint '${raw}' is not host:port, https://host:port or http://host:port${hint}`);
  }
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new EndpointError(`endpoint '${raw}': port ${m[2]} is not in 1..65535`);
  return `${m[1]}:${port}`;
}
