// Groups are an access boundary (issue 9, defect 5): an agent token chooses groups only within its `groups` claim,
// admins set any, and the groups per member are capped (MAX_GROUPS_PER_MEMBER, lowered to 8 by vitest.config.ts).
import { describe, expect, it } from 'vitest';
import { adminToken, api, freshRoom, token } from './helpers.js';

const connect = (room: string, agent: string, tok: string, body?: unknown) =>
  api('POST', `/v1/rooms/${room}/agents/${agent}/connect`, { token: tok, body });
const join = (room: string, agent: string, group: string, tok: string) =>
  api('PUT', `/v1/rooms/${room}/agents/${agent}/groups/${group}`, { token: tok });
const leave = (room: string, agent: string, group: string, tok: string) =>
  api('DELETE', `/v1/rooms/${room}/agents/${agent}/groups/${group}`, { token: tok });

async function groupsOf(room: string, agent: string): Promise<string[]> {
  const view = await api('GET', `/v1/rooms/${room}`, { token: await adminToken() });
  return view.json.members.find((m: { id: string }) => m.id === agent)?.groups;
}

describe('the groups claim', () => {
  it('without it an agent may not choose groups (403 saying so), but may connect and keep what an admin set', async () => {
    const room = freshRoom();
    const alice = await token('alice', room);
    const refused = await connect(room, 'alice', alice, { groups: ['research'] });
    expect(refused).toMatchObject({ status: 403, json: { error: { code: 'FORBIDDEN' } } });
    expect(refused.json.error.message).toMatch(/groups claim/);
    expect(refused.json.error.message).toContain('--groups');
    // Refused before anything changed: alice is not a member.
    const view = await api('GET', `/v1/rooms/${room}`, { token: await adminToken() });
    expect(view.json.members ?? []).toEqual([]);
    expect((await connect(room, 'alice', await adminToken(), { groups: ['research', 'leads'] })).status).toBe(200);
    expect((await connect(room, 'alice', alice)).status).toBe(200);
    expect(await groupsOf(room, 'alice')).toEqual(['leads', 'research']);
    expect((await connect(room, 'alice', alice, { groups: [] })).status).toBe(403);
    expect((await join(room, 'alice', 'ops', alice)).status).toBe(403);
    expect((await leave(room, 'alice', 'leads', alice)).status).toBe(403);
    expect(await groupsOf(room, 'alice')).toEqual(['leads', 'research']);
  });

  it('with a list, lets the agent join, leave and set only those groups', async () => {
    const room = freshRoom();
    const admin = await adminToken();
    const bob = await token('bob', room, 'agent', { groups: ['research', 'leads'] });
    expect((await connect(room, 'bob', bob, { groups: ['research'] })).json.groups).toEqual(['research']);
    expect((await join(room, 'bob', 'leads', bob)).json).toEqual({ agent: 'bob', groups: ['leads', 'research'] });
    expect((await leave(room, 'bob', 'research', bob)).json).toEqual({ agent: 'bob', groups: ['leads'] });
    const outside = await connect(room, 'bob', bob, { groups: ['leads', 'ops'] });
    expect(outside).toMatchObject({ status: 403, json: { error: { code: 'FORBIDDEN' } } });
    expect(outside.json.error.message).toContain('"ops"');
    expect((await join(room, 'bob', 'ops', bob)).status).toBe(403);
    // A group an admin added outside the claim cannot be dropped by the agent either, by leave or by replacing the list.
    expect((await join(room, 'bob', 'ops', admin)).status).toBe(200);
    expect((await leave(room, 'bob', 'ops', bob)).status).toBe(403);
    expect((await connect(room, 'bob', bob, { groups: ['leads'] })).status).toBe(403);
    expect(await groupsOf(room, 'bob')).toEqual(['leads', 'ops']);
    // Another agent's groups stay out of reach whatever the claim says.
    expect((await join(room, 'carol', 'leads', bob)).status).toBe(403);
  });

  it('with ["*"], lets the agent choose any group', async () => {
    const room = freshRoom();
    const carol = await token('carol', room, 'agent', { groups: ['*'] });
    expect((await connect(room, 'carol', carol, { groups: ['anything', 'else'] })).status).toBe(200);
    expect((await join(room, 'carol', 'more', carol)).json.groups).toEqual(['anything', 'else', 'more']);
  });

  it('refuses a token whose groups claim is malformed (401)', async () => {
    const room = freshRoom();
    for (const groups of ['research', [1], ['bad group'], {}]) {
      const res = await connect(room, 'dan', await token('dan', room, 'agent', { groups }));
      expect(res, JSON.stringify(groups)).toMatchObject({ status: 401, json: { error: { code: 'UNAUTHORIZED' } } });
    }
  });

  it('join and leave answer UNKNOWN_AGENT for a non-member and INVALID_ARGUMENT for a bad group name', async () => {
    const room = freshRoom();
    const admin = await adminToken();
    expect(await join(room, 'ghost', 'g', admin)).toMatchObject({ status: 404, json: { error: { code: 'UNKNOWN_AGENT' } } });
    expect((await join(room, 'ghost', 'bad%20group', admin)).status).toBe(400);
  });
});

describe('MAX_GROUPS_PER_MEMBER', () => {
  it('refuses more groups than the cap with 400 INVALID_ARGUMENT, on connect and on join', async () => {
    const room = freshRoom();
    const admin = await adminToken();
    const nine = Array.from({ length: 9 }, (_, i) => `g${i}`);
    const tooMany = await connect(room, 'eve', admin, { groups: nine });
    expect(tooMany).toMatchObject({ status: 400, json: { error: { code: 'INVALID_ARGUMENT' } } });
    expect(tooMany.json.error.message).toContain('MAX_GROUPS_PER_MEMBER');
    expect((await connect(room, 'eve', admin, { groups: nine.slice(0, 8) })).status).toBe(200);
    const ninth = await join(room, 'eve', 'g8', admin);
    expect(ninth).toMatchObject({ status: 400, json: { error: { code: 'INVALID_ARGUMENT' } } });
    // Repeats count once, and joining a group the member already has is not a new group.
    expect((await connect(room, 'eve', admin, { groups: [...nine.slice(0, 8), 'g0'] })).status).toBe(200);
    expect((await join(room, 'eve', 'g0', admin)).status).toBe(200);
    expect(await groupsOf(room, 'eve')).toEqual(nine.slice(0, 8));
  });
});
