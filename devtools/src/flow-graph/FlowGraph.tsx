/**
 * Who talks to whom: agents and groups as nodes, one edge per sender → target
 * with its message count as the stroke weight and the policy as its colour.
 * The latest messages' edges are animated, so routing is seen as it happens
 * (and, during replay, up to the chosen message).
 */
import { Background, type Edge, MarkerType, type Node, ReactFlow, ReactFlowProvider, useReactFlow } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useEffect, useMemo, useRef } from 'react';
import type { AgentState, StoredMessage } from '../api/types.js';
import { Panel } from '../ui/Panel.js';
import { KNOWN_POLICIES, policyColor } from '../ui/policy.js';
import { agentNode, EVERYONE, FlowAggregate, groupNode } from './graph-model.js';
import { layout } from './layout.js';

export interface FlowGraphProps {
  messages: readonly StoredMessage[];
  /** How many of `messages` to draw (all when live, a prefix during replay). */
  limit: number;
  members: AgentState[];
  onSelectAgent(agent: string): void;
}

/** Edges touched by this many of the latest messages are animated. */
const RECENT = 5;
/** Count labels on edges only while the graph stays readable. */
const LABEL_LIMIT = 80;

function Graph({ messages, limit, members, onSelectAgent }: FlowGraphProps) {
  const aggregate = useRef(new FlowAggregate()).current;
  const groups = useMemo(() => {
    const map = new Map<string, string[]>();
    for (const m of members) for (const g of m.groups) map.set(g, [...(map.get(g) ?? []), m.id]);
    return map;
  }, [members]);
  const shape = useMemo(() => ({ memberIds: new Set(members.map((m) => m.id)), groupNames: new Set(groups.keys()) }), [members, groups]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `messages` is the store's growing array; `limit` says how much of it to read.
  const stats = useMemo(() => {
    aggregate.update(messages, limit, shape);
    return { edges: [...aggregate.edges.values()], agents: [...aggregate.agents], latestId: messages[limit - 1]?.id ?? 0 };
  }, [limit, shape]);

  const agentIds = useMemo(() => [...new Set([...members.map((m) => m.id), ...stats.agents])].sort(), [members, stats.agents]);
  const hasEveryone = stats.edges.some((e) => e.target === EVERYONE);

  const nodes = useMemo<Node[]>(() => {
    const positions = layout(agentIds, groups);
    const online = new Map(members.map((m) => [m.id, m.online]));
    const list: Node[] = agentIds.map((id) => ({
      id: agentNode(id),
      position: positions.get(agentNode(id)) ?? { x: 0, y: 0 },
      data: { label: id },
      className: `flow-node agent ${online.get(id) ? 'online' : online.has(id) ? 'offline' : 'left'}`,
      draggable: false,
    }));
    for (const group of groups.keys()) {
      list.push({
        id: groupNode(group),
        position: positions.get(groupNode(group)) ?? { x: 0, y: 0 },
        data: { label: `#${group}` },
        className: 'flow-node group',
        draggable: false,
      });
    }
    if (hasEveryone)
      list.push({ id: EVERYONE, position: { x: 0, y: 0 }, data: { label: 'everyone' }, className: 'flow-node everyone', draggable: false });
    return list;
  }, [agentIds, groups, members, hasEveryone]);

  const edges = useMemo<Edge[]>(() => {
    const list: Edge[] = [];
    for (const [group, ids] of groups) {
      for (const id of ids)
        list.push({
          id: `m:${group}->${id}`,
          source: groupNode(group),
          target: agentNode(id),
          className: 'membership-edge',
          selectable: false,
          focusable: false,
        });
    }
    const labels = stats.edges.length <= LABEL_LIMIT;
    for (const e of stats.edges) {
      const color = policyColor(e.policy);
      list.push({
        id: e.id,
        source: e.source,
        target: e.target,
        animated: e.lastId > stats.latestId - RECENT,
        style: { stroke: color, strokeWidth: 1 + Math.log2(e.count) * 1.5 },
        markerEnd: { type: MarkerType.ArrowClosed, color },
        ariaLabel: `${e.source} to ${e.target}: ${e.count} messages (${e.policy})`,
        data: { count: e.count, policy: e.policy },
        ...(labels ? { label: String(e.count) } : {}),
      });
    }
    return list;
  }, [groups, stats]);

  const flow = useReactFlow();
  const nodeCount = nodes.length;
  useEffect(() => {
    // Re-frame when nodes come or go, not on every message.
    if (nodeCount > 0) requestAnimationFrame(() => void flow.fitView({ padding: 0.1 }));
  }, [nodeCount, flow]);

  return (
    <ReactFlow
      nodes={nodes}
      edges={edges}
      nodesDraggable={false}
      nodesConnectable={false}
      elementsSelectable={false}
      onlyRenderVisibleElements={agentIds.length > 60}
      onNodeClick={(_, node) => node.id.startsWith('agent:') && onSelectAgent(node.id.slice('agent:'.length))}
      defaultEdgeOptions={{ type: 'straight' }}
      fitView
      minZoom={0.05}
      proOptions={{ hideAttribution: true }}
    >
      <Background gap={24} />
    </ReactFlow>
  );
}

export function FlowGraph(props: FlowGraphProps) {
  return (
    <Panel
      title="Flow"
      testId="flow-graph"
      className="flow-panel"
      actions={
        <span className="legend">
          {KNOWN_POLICIES.map((p) => (
            <span key={p} style={{ color: policyColor(p) }}>
              ━ {p}
            </span>
          ))}
        </span>
      }
    >
      <div className="flow-canvas">
        <ReactFlowProvider>
          <Graph {...props} />
        </ReactFlowProvider>
      </div>
    </Panel>
  );
}
