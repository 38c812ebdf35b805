/**
 * Who talks to whom: agents and groups as nodes, one edge per sender → target
 * with its message count as the stroke weight and the policy as its colour.
 * The latest messages' edges are animated, so routing is seen as it happens
 * (and, during replay, up to the chosen message). Replies are dashed curves
 * from the one who answered back to the one asked.
 */
import {
  Background,
  type Edge,
  Panel as FlowOverlay,
  MarkerType,
  type Node,
  type NodeChange,
  ReactFlow,
  ReactFlowProvider,
  useNodesInitialized,
  useReactFlow,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { memo, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { StoredMessage } from '../api/types.js';
import type { Membership } from '../hooks/useMembership.js';
import type { LiveStream } from '../state/stream-store.js';
import { Panel } from '../ui/Panel.js';
import { KNOWN_POLICIES, policyColor } from '../ui/policy.js';
import { agentNode, EVERYONE, FlowAggregate, groupNode } from './graph-model.js';
import { layout } from './layout.js';

export interface FlowGraphProps {
  messages: readonly StoredMessage[];
  /** How many of `messages` to draw (all when live, a prefix during replay). */
  limit: number;
  membership: Membership;
  /** Streams in flight: their sender → recipient edges are marked while they stream. */
  streaming: readonly LiveStream[];
  onSelectAgent(agent: string): void;
}

/** Edges touched by this many of the latest messages are animated. */
const RECENT = 5;
/** Count labels on edges only while the graph stays readable. */
const LABEL_LIMIT = 80;
/**
 * At most this many sender → target edges are drawn, the most recently used
 * first: 200 agents × 10 groups could make 2,000, which no one can read and
 * which would cost every frame; the panel says how many are hidden.
 */
export const EDGE_LIMIT = 200;
/** Rooms with more members than this get the lighter drawing. */
const LARGE_ROOM = 60;
/** Reply edges are one colour whatever the policy: they show who answered, not how the answer was routed. */
const REPLY_COLOR = '#db2777';
/** A stream in flight: its edges pulse in this colour until it ends. */
const STREAM_COLOR = '#d97706';
/** Edges drawn per stream at most (a stream to a whole large room marks its first recipients only). */
const STREAM_EDGES = 40;

function Graph({ messages, limit, membership, streaming, onSelectAgent }: FlowGraphProps) {
  const aggregate = useRef(new FlowAggregate()).current;
  const { groups } = membership;
  const shape = useMemo(() => ({ memberIds: new Set(membership.ids), groupNames: new Set(membership.groupNames) }), [membership]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `messages` is the store's growing array; `limit` says how much of it to read.
  const stats = useMemo(() => {
    aggregate.update(messages, limit, shape);
    const all = [...aggregate.edges.values()];
    const edges = all.length > EDGE_LIMIT ? all.sort((a, b) => b.lastId - a.lastId).slice(0, EDGE_LIMIT) : all;
    return { edges, total: all.length, agentCount: aggregate.agents.size, latestId: messages[limit - 1]?.id ?? 0 };
  }, [limit, shape]);

  // Agents who left still have a node while their messages are drawn; the list only changes when someone new appears.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `agentCount` tracks the aggregate's growing agent set.
  const agentIds = useMemo(
    () => [...new Set([...membership.ids, ...aggregate.agents, ...streaming.flatMap((s) => [s.sender, ...s.recipients])])].sort(),
    [membership, stats.agentCount, streaming],
  );
  const hasEveryone = stats.edges.some((e) => e.target === EVERYONE);

  // React Flow draws an edge only between measured nodes, and it forgets the measurement of every node object it has
  // not seen before. Membership refreshes (each presence change) rebuild this list, so each node keeps its object
  // while it looks the same, and a changed one carries the size React Flow last measured: the graph never goes blank
  // waiting for a new measurement.
  const nodeCache = useRef(new Map<string, { key: string; node: Node }>()).current;
  const sizes = useRef(new Map<string, { width: number; height: number }>()).current;
  const onNodesChange = useCallback(
    (changes: NodeChange[]) => {
      for (const change of changes) if (change.type === 'dimensions' && change.dimensions) sizes.set(change.id, change.dimensions);
    },
    [sizes],
  );
  const nodes = useMemo<Node[]>(() => {
    const positions = layout(agentIds, groups);
    const online = membership.online;
    const node = (id: string, label: string, className: string): Node => {
      const position = positions.get(id) ?? { x: 0, y: 0 };
      const key = `${label}|${className}|${position.x},${position.y}`;
      const cached = nodeCache.get(id);
      if (cached?.key === key) return cached.node;
      const measured = sizes.get(id);
      const built: Node = { id, position, data: { label }, className, draggable: false, ...(measured ? { measured } : {}) };
      nodeCache.set(id, { key, node: built });
      return built;
    };
    const list: Node[] = agentIds.map((id) =>
      node(agentNode(id), id, `flow-node agent ${online.get(id) ? 'online' : online.has(id) ? 'offline' : 'left'}`),
    );
    for (const group of groups.keys()) list.push(node(groupNode(group), `#${group}`, 'flow-node group'));
    if (hasEveryone) list.push(node(EVERYONE, 'everyone', 'flow-node everyone'));
    return list;
  }, [agentIds, groups, membership, hasEveryone, nodeCache, sizes]);

  // Dotted group → member edges show who a group reaches; in a large room the group nodes already sit among their
  // members and 200 more edges would only slow each update, so they are left out there.
  const large = membership.ids.length > LARGE_ROOM;
  const membershipEdges = useMemo<Edge[]>(() => {
    const list: Edge[] = [];
    if (large) return list;
    for (const [group, ids] of groups) {
      for (const id of ids) {
        list.push({
          id: `m:${group}->${id}`,
          source: groupNode(group),
          target: agentNode(id),
          className: 'membership-edge',
          selectable: false,
          focusable: false,
        });
      }
    }
    return list;
  }, [groups, large]);

  // Edge objects are reused while their count, policy and recency are unchanged, so React Flow redraws only the
  // few edges a burst of messages touched, not all of them.
  const edgeCache = useRef(new Map<string, { key: string; edge: Edge }>()).current;
  const edges = useMemo<Edge[]>(() => {
    const list = membershipEdges.slice();
    const small = stats.edges.length <= LABEL_LIMIT;
    for (const e of stats.edges) {
      const recent = e.lastId > stats.latestId - RECENT;
      const key = `${e.kind}|${e.count}|${e.policy}|${recent}|${small}`;
      const cached = edgeCache.get(e.id);
      if (cached?.key === key) {
        list.push(cached.edge);
        continue;
      }
      const reply = e.kind === 'reply';
      const color = reply ? REPLY_COLOR : policyColor(e.policy);
      const edge: Edge = {
        id: e.id,
        source: e.source,
        target: e.target,
        // A curve, so a reply does not lie on top of the straight edge of the message it answers.
        ...(reply ? { type: 'default' } : {}),
        // Dash animation repaints the whole graph layer every frame: only for small graphs; large ones mark recent edges by opacity.
        animated: small && recent,
        className: `flow-edge${reply ? ' reply' : ''}${recent ? ' recent' : ''}`,
        style: { stroke: color, strokeWidth: 1 + Math.log2(e.count) * 1.5, ...(reply ? { strokeDasharray: '6 4' } : {}) },
        // Sized in user space: by default markers scale with the stroke, and heavy edges would get huge arrowheads.
        markerEnd: { type: MarkerType.ArrowClosed, color, width: 14, height: 14, markerUnits: 'userSpaceOnUse' },
        ariaLabel: reply
          ? `${e.source} replied to ${e.target}: ${e.count} replies`
          : `${e.source} to ${e.target}: ${e.count} messages (${e.policy})`,
        data: { count: e.count, policy: e.policy, kind: e.kind },
        ...(small ? { label: reply ? `↩ ${e.count}` : String(e.count) } : {}),
      };
      edgeCache.set(e.id, { key, edge });
      list.push(edge);
    }
    for (const stream of streaming) {
      for (const recipient of stream.recipients.slice(0, STREAM_EDGES)) {
        if (recipient === stream.sender) continue;
        list.push({
          id: `s:${stream.streamId}->${recipient}`,
          source: agentNode(stream.sender),
          target: agentNode(recipient),
          type: 'default',
          animated: true,
          className: 'flow-edge streaming',
          style: { stroke: STREAM_COLOR, strokeWidth: 2.5, strokeDasharray: '2 4' },
          markerEnd: { type: MarkerType.ArrowClosed, color: STREAM_COLOR, width: 14, height: 14, markerUnits: 'userSpaceOnUse' },
          ariaLabel: `${stream.sender} is streaming to ${recipient}`,
          data: { kind: 'stream', streamId: stream.streamId },
          label: '✎ streaming',
        });
      }
    }
    return list;
  }, [membershipEdges, stats, edgeCache, streaming]);

  const flow = useReactFlow();
  const measured = useNodesInitialized();
  const nodeCount = nodes.length;
  useEffect(() => {
    // Re-frame when nodes come or go (once React Flow has measured them), not on every message.
    if (measured && nodeCount > 0) void flow.fitView({ padding: 0.1 });
  }, [measured, nodeCount, flow]);

  return (
    <ReactFlow
      nodes={nodes}
      edges={edges}
      onNodesChange={onNodesChange}
      nodesDraggable={false}
      nodesConnectable={false}
      elementsSelectable={false}
      onNodeClick={(_, node) => node.id.startsWith('agent:') && onSelectAgent(node.id.slice('agent:'.length))}
      defaultEdgeOptions={{ type: 'straight' }}
      fitView
      minZoom={0.05}
    >
      <Background gap={24} />
      {stats.total > stats.edges.length && (
        <FlowOverlay position="top-left" className="flow-note" data-testid="flow-hidden-edges">
          showing the {stats.edges.length} most recent of {stats.total} paths
        </FlowOverlay>
      )}
    </ReactFlow>
  );
}

export const FlowGraph = memo(function FlowGraph(props: FlowGraphProps) {
  // A very busy room may be easier to follow (and cheaper to draw) from the timeline alone.
  const [shown, setShown] = useState(true);
  return (
    <Panel
      title="Flow"
      testId="flow-graph"
      className={shown ? 'flow-panel' : 'flow-panel collapsed'}
      actions={
        <span className="legend">
          {KNOWN_POLICIES.map((p) => (
            <span key={p} style={{ color: policyColor(p) }}>
              ━ {p}
            </span>
          ))}
          <span style={{ color: REPLY_COLOR }}>╌ reply</span>
          <span style={{ color: STREAM_COLOR }}>┅ streaming</span>
          <button type="button" className="secondary small" onClick={() => setShown(!shown)} data-testid="flow-toggle">
            {shown ? 'Hide' : 'Show'}
          </button>
        </span>
      }
    >
      {shown && (
        <div className="flow-canvas">
          <ReactFlowProvider>
            <Graph {...props} />
          </ReactFlowProvider>
        </div>
      )}
    </Panel>
  );
});
