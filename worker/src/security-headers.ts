/**
 * Response headers that limit what a browser does with the worker's answers.
 * Every answer says `nosniff`; the dashboard's pages also get a strict CSP (no
 * inline script or style, connections only to this origin and the configured
 * API origins, never framed) and no Referer, so a token in its URL goes nowhere.
 */

/** Sent on every answer but WebSocket upgrades. */
export const NOSNIFF = { 'x-content-type-options': 'nosniff' } as const;

/**
 * The headers of the dashboard's files. `origin` is the worker's own (the
 * dashboard's default API); `apiOrigins` is the DEVTOOLS_API_ORIGINS var, a
 * comma-separated list of other API origins the dashboard may call.
 */
export function devtoolsHeaders(origin: string, apiOrigins: string | undefined): Record<string, string> {
  const connect = ["'self'", ...withSockets(origin), ...parseOrigins(apiOrigins).flatMap(withSockets)];
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    // The page's favicon is an empty data: URL.
    "img-src 'self' data:",
    `connect-src ${[...new Set(connect)].join(' ')}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { 'content-security-policy': csp, 'referrer-policy': 'no-referrer', ...NOSNIFF };
}

/** Adds `headers` to a response, copying it first when its headers are immutable (answers of `fetch` and bindings). */
export function withHeaders(response: Response, headers: Record<string, string>): Response {
  if (response.status === 101 || response.webSocket) return response;
  let out = response;
  try {
    for (const [name, value] of Object.entries(headers)) out.headers.set(name, value);
  } catch {
    out = new Response(response.body, response);
    for (const [name, value] of Object.entries(headers)) out.headers.set(name, value);
  }
  return out;
}

// --- internal helpers ---

/** `https://a.example` → it and `wss://a.example`: CSP does not let `'self'` cover WebSockets in every browser. */
function withSockets(origin: string): string[] {
  return [origin, origin.replace(/^http/, 'ws')];
}

/** Origins from a comma-separated var; anything that is not an http(s) origin is skipped with a warning (it could inject directives). */
function parseOrigins(list: string | undefined): string[] {
  const origins: string[] = [];
  for (const entry of (list ?? '').split(',').map((o) => o.trim())) {
    if (!entry) continue;
    let url: URL | undefined;
    try {
      url = new URL(entry);
    } catch {
      url = undefined;
    }
    if (url && (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === entry.replace(/\/$/, '')) {
      origins.push(url.origin);
    } else {
      console.warn(`[mmb-worker] DEVTOOLS_API_ORIGINS: "${entry}" is not an origin like https://bus.example.com; ignored`);
    }
  }
  return origins;
}
