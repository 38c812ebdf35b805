import type { MemberRecord, RoomMember, RoomView } from './types.js';

/** Views built per members array: backends return the same array while membership is unchanged, so this is a cache hit on nearly every send. */
const views = new WeakMap<readonly MemberRecord[], RoomView>();

/** The `RoomView` a routing policy sees for a backend's members array. */
export function roomViewOf(room: string, members: readonly MemberRecord[]): RoomView {
  const cached = views.get(members);
  if (cached && cached.id === room) return cached;
  const byId = new Map<string, RoomMember>();
  const groups = new Map<string, string[]>();
  const list: RoomMember[] = [];
  for (const record of members) {
    const member: RoomMember = Object.freeze({ id: record.id, online: record.online, groups: Object.freeze([...record.groups]) });
    byId.set(member.id, member);
    list.push(member);
    for (const group of record.groups) {
      let ids = groups.get(group);
      if (!ids) groups.set(group, (ids = []));
      ids.push(member.id);
    }
  }
  list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const ids of groups.values()) ids.sort();
  const view: RoomView = Object.freeze({
    id: room,
    members: Object.freeze(list),
    groups,
    has: (agentId: string) => byId.has(agentId),
    member: (agentId: string) => byId.get(agentId),
  });
  views.set(members, view);
  return view;
}
