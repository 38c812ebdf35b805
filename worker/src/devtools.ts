import type { Env } from './env.js';
import { errorResponse, fail } from './errors.js';
import { devtoolsHeaders, withHeaders } from './security-headers.js';

/**
 * Serves the dashboard build (the `ASSETS` binding) under `prefix`, with its
 * security headers. Every redirect stays inside `prefix`: the asset server
 * redirects `/index.html` to `/` and resolves `//host/` paths, which under a
 * prefix would point outside the dashboard or to another host.
 */
export async function serveDevtools(request: Request, env: Env, prefix: string): Promise<Response> {
  const url = new URL(request.url);
  const headers = devtoolsHeaders(url.origin, env.DEVTOOLS_API_ORIGINS);
  const path = url.pathname.slice(prefix.length);
  if (path === '' || /\/{2,}/.test(path)) {
    // `/devtools` and `/devtools//x/`: one canonical path, inside the prefix.
    const canonical = `${prefix}${path.replace(/\/{2,}/g, '/') || '/'}`;
    return redirect(`${canonical}${url.search}`, headers);
  }
  if (!env.ASSETS) {
    return withHeaders(
      errorResponse(fail('NOT_FOUND', 'the devtools are not built: run `npm run build -w modular-message-bus-devtools`')),
      headers,
    );
  }
  const assetUrl = new URL(url);
  assetUrl.pathname = path;
  const response = await env.ASSETS.fetch(new Request(assetUrl, request));
  const location = response.headers.get('location');
  if (response.status >= 300 && response.status < 400 && location !== null) {
    const target = new URL(location, assetUrl);
    if (target.origin !== assetUrl.origin) return notFound(path, headers);
    return redirect(`${prefix}${target.pathname}${target.search}`, headers, response.status);
  }
  if (response.status === 404) return notFound(path, headers);
  return withHeaders(response, headers);
}

// --- internal helpers ---

function redirect(location: string, headers: Record<string, string>, status = 301): Response {
  return new Response(null, { status, headers: { ...headers, location } });
}

function notFound(path: string, headers: Record<string, string>): Response {
  return withHeaders(errorResponse(fail('NOT_FOUND', `no devtools file at ${path}: build the devtools first`)), headers);
}
