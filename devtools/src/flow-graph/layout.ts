/**
 * Positions for the graph: agents on an outer circle (sorted, so a member keeps
 * its place between renders), each group inside, near its members, and the
 * room's "everyone" node in the middle.
 */
import { agentNode, EVERYONE, groupNode } from './graph-model.js';

export interface Point {
  x: number;
  y: number;
}

export function layout(agents: readonly string[], groups: ReadonlyMap<string, readonly string[]>): Map<string, Point> {
  const positions = new Map<string, Point>();
  const radius = Math.max(220, agents.length * 9);
  const angleOf = new Map<string, number>();
  agents.forEach((agent, i) => {
    const angle = (2 * Math.PI * i) / Math.max(agents.length, 1) - Math.PI / 2;
    angleOf.set(agent, angle);
    positions.set(agentNode(agent), { x: radius * Math.cos(angle), y: radius * Math.sin(angle) });
  });
  [...groups.keys()].sort().forEach((group, i, all) => {
    const members = groups.get(group) ?? [];
    // Mean direction of the members; groups without members spread evenly.
    let x = 0;
    let y = 0;
    for (const member of members) {
      const angle = angleOf.get(member);
      if (angle === undefined) continue;
      x += Math.cos(angle);
      y += Math.sin(angle);
    }
    const angle = x === 0 && y === 0 ? (2 * Math.PI * i) / all.length : Math.atan2(y, x);
    const r = radius * (0.45 + 0.12 * (i % 2));
    positions.set(groupNode(group), { x: r * Math.cos(angle), y: r * Math.sin(angle) });
  });
  positions.set(EVERYONE, { x: 0, y: 0 });
  return positions;
}
