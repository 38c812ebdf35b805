// Every API answer says nosniff (issue 9, defect 2); the dashboard's own headers are checked against real assets in
// test/e2e/devtools-serving.test.ts and e2e/specs/security-headers.spec.ts.
import { describe, expect, it } from 'vitest';
import { adminToken, api, freshRoom, join } from './helpers.js';

describe('API response headers', () => {
  it('sends X-Content-Type-Options: nosniff on answers, errors, /metrics and preflights', async () => {
    const room = freshRoom();
    const { alice } = await join(room, 'alice', 'bob');
    const answers = [
      await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content: 'x' } }),
      await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: '{' }),
      await api('GET', '/v1/rooms'),
      await api('GET', '/metrics', { token: await adminToken() }),
      await api('GET', '/v1/nowhere', { token: alice }),
      await api('OPTIONS', '/v1/rooms/x/messages', {
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
      }),
    ];
    expect(answers.map((a) => a.status)).toEqual([201, 400, 401, 200, 404, 204]);
    for (const answer of answers) expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
