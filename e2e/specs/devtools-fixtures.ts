/**
 * Shared setup of the devtools specs: a real `wrangler dev` serving the worker
 * and the built dashboard, admin tokens signed with the local dev secret, and
 * a small admin API client to seed rooms the way any program would.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import { startWrangler, type WranglerServer } from '../support/wrangler.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SCREENSHOTS = join(ROOT, 'e2e/screenshots');

/** The committed local secret from `.dev.vars` (never used by deploys). */
export function devSecret(): string {
  const text = readFileSync(join(ROOT, '.dev.vars'), 'utf8');
  const match = /^BUS_SECRET=(.+)$/m.exec(text);
  if (!match) throw new Error('[devtools e2e] .dev.vars has no BUS_SECRET line');
  return (match[1] as string).trim();
}

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** An HS256 JWT with the worker's claims (`sub`, `room`, `role`, `exp`). */
export function signToken(claims: { sub: string; room: string; role: 'agent' | 'admin' }, secret = devSecret()): string {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ ...claims, exp: Math.floor(Date.now() / 1000) + 3600 }));
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

export const adminToken = (): string => signToken({ sub: 'e2e-admin', room: '*', role: 'admin' });

export interface StoredMessageJson {
  id: number;
  sender: string;
  recipients: string[];
  routing: { policy: string; requested: string[] | null };
  idempotencyKey?: string;
  timestamp: number;
}

/** The admin API as a test uses it; throws with the worker's error body on a refusal. */
export class AdminApi {
  constructor(
    readonly url: string,
    readonly token = adminToken(),
  ) {}

  /**
   * `wrangler dev` reloads the worker when files it bundles change (other work in the same checkout) and answers
   * requests cut off by the reload with 503 "restarted mid-request" (or refuses the connection for a moment). Those
   * are retried when repeating is safe:
   * every admin route but a send without an idempotency key.
   */
  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const repeatable =
      method !== 'POST' || !path.endsWith('/messages') || typeof (body as { idempotencyKey?: unknown })?.idempotencyKey === 'string';
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(`${this.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (error) {
        // The same reload can refuse the connection for a moment.
        if (!repeatable || attempt >= 5) throw error;
        await new Promise((r) => setTimeout(r, 300 * attempt));
        continue;
      }
      const text = await response.text();
      if (response.status === 503 && text.includes('restarted mid-request') && repeatable && attempt < 5) {
        await new Promise((r) => setTimeout(r, 200 * attempt));
        continue;
      }
      if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${text}`);
      return text ? JSON.parse(text) : null;
    }
  }

  connect(room: string, agent: string, groups?: string[]) {
    return this.request('POST', `/v1/rooms/${room}/agents/${agent}/connect`, groups ? { groups } : {});
  }
  disconnect(room: string, agent: string) {
    return this.request('POST', `/v1/rooms/${room}/agents/${agent}/disconnect`, {});
  }
  ack(room: string, agent: string, upTo: number) {
    return this.request('POST', `/v1/rooms/${room}/agents/${agent}/ack`, { upTo });
  }
  setRouting(room: string, routing: string) {
    return this.request('PUT', `/v1/rooms/${room}`, { routing });
  }
  send(room: string, sender: string, content: unknown, recipients?: string[], idempotencyKey?: string): Promise<StoredMessageJson> {
    return this.request('POST', `/v1/rooms/${room}/messages`, {
      sender,
      content,
      ...(recipients ? { recipients } : {}),
      ...(idempotencyKey ? { idempotencyKey } : {}),
    }) as Promise<StoredMessageJson>;
  }
}

export type DevWorker = WranglerServer;

/** `wrangler dev` with the built dashboard (build it first with `ensureDevtoolsBuilt`). */
export function startDevWorker(options: { vars?: Record<string, string>; persistTo?: string; port?: number } = {}): Promise<DevWorker> {
  return startWrangler(options);
}

/** Opens the dashboard on `room` with a token, the way the demo's printed URL does. */
export async function openDashboard(page: Page, url: string, options: { room?: string; token?: string } = {}): Promise<void> {
  const params = new URLSearchParams({ token: options.token ?? adminToken() });
  if (options.room) params.set('room', options.room);
  await page.goto(`${url}/devtools/?${params}`);
}

export function screenshotPath(name: string): string {
  return join(SCREENSHOTS, `${name}.png`);
}

/**
 * Builds the dashboard when `devtools/dist` is missing or older than its
 * sources, so the specs always drive the current UI through the worker.
 */
export async function ensureDevtoolsBuilt(): Promise<void> {
  const { existsSync, statSync, readdirSync } = await import('node:fs');
  const dist = join(ROOT, 'devtools/dist/index.html');
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((max, entry) => {
      const path = join(dir, entry.name);
      return Math.max(max, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
    }, 0);
  const sources = Math.max(newest(join(ROOT, 'devtools/src')), statSync(join(ROOT, 'devtools/index.html')).mtimeMs);
  if (existsSync(dist) && statSync(dist).mtimeMs >= sources) return;
  const { execFileSync } = await import('node:child_process');
  execFileSync('npm', ['run', 'build', '-w', 'modular-message-bus-devtools'], { cwd: ROOT, stdio: 'inherit' });
}
