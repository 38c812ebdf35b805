// The dashboard as the worker serves it from the real assets in wrangler dev (issue 9, defects 2 and 10): strict
// security headers, no inline script for the CSP to block, and no redirect that leaves /devtools.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../../e2e/support/wrangler.js';
import { startWrangler, type WranglerServer } from './support.js';

const INDEX = join(ROOT, 'devtools/dist/index.html');
let dev: WranglerServer;

beforeAll(async () => {
  // `npm test` builds first; a single run of this file builds the dashboard when it is missing.
  if (!existsSync(INDEX)) execFileSync('npm', ['run', 'build', '-w', 'modular-message-bus-devtools'], { cwd: ROOT, stdio: 'inherit' });
  dev = await startWrangler({ vars: { DEVTOOLS_API_ORIGINS: 'https://bus.example.com, not an origin;script-src *' } });
});
afterAll(async () => {
  await dev?.stop();
});

const get = (path: string) => fetch(`${dev.url}${path}`, { redirect: 'manual' });

describe('/devtools headers', () => {
  it('serves the page with a strict CSP, nosniff and no referrer', async () => {
    const page = await get('/devtools/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = (page.headers.get('content-security-policy') ?? '').split(';').map((d) => d.trim());
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    const connect = csp.find((d) => d.startsWith('connect-src'))?.split(' ') ?? [];
    const ws = dev.url.replace('http', 'ws');
    expect(connect).toEqual(['connect-src', "'self'", dev.url, ws, 'https://bus.example.com', 'wss://bus.example.com']);
    // The malformed entry of DEVTOOLS_API_ORIGINS was dropped, not pasted into the policy.
    expect(csp.join(';')).not.toContain('script-src *');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('sends the same headers with the script and style files', async () => {
    const html = readFileSync(INDEX, 'utf8');
    const assets = [...html.matchAll(/(?:src|href)="(\/devtools\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) {
      const response = await get(asset);
      expect(response.status, asset).toBe(200);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    }
  });

  it('the build has no inline script or style for the CSP to refuse', () => {
    const html = readFileSync(INDEX, 'utf8');
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc="/);
      expect(body?.trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b/);
    expect(html).not.toMatch(/\sstyle="/);
    expect(html).not.toMatch(/\son[a-z]+="/);
  });
});

describe('/devtools redirects', () => {
  it('never send the browser outside /devtools on this origin', async () => {
    const paths = [
      '/devtools',
      '/devtools/index.html',
      '/devtools//x/',
      '/devtools//evil.example/',
      '/devtools///evil.example//a',
      '/devtools/./x/../index.html',
    ];
    const redirected: string[] = [];
    for (const path of paths) {
      const response = await get(path);
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400) continue;
      expect(location, path).not.toBeNull();
      const target = new URL(location as string, `${dev.url}${path}`);
      expect(`${target.origin} ${target.pathname}`, `${path} → ${location}`).toMatch(new RegExp(`^${dev.url} /devtools/`));
      redirected.push(path);
      // Following it lands on the dashboard or a JSON 404, never on another redirect loop.
      const followed = await fetch(target, { redirect: 'follow' });
      expect([200, 404], `${path} → ${location}`).toContain(followed.status);
    }
    expect(redirected).toContain('/devtools');
    expect(redirected).toContain('/devtools//x/');
  });
});
