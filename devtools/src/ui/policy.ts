/** One colour per routing policy, shared by the graph, the timeline and the legend. */
const COLORS: Record<string, string> = {
  broadcast: '#2f6fde',
  subgroup: '#1f9d55',
  individual: '#d97706',
  addressed: '#0e9aa7',
};

export function policyColor(policy: string | null | undefined): string {
  return (policy && COLORS[policy]) || '#8b5cf6';
}

export const KNOWN_POLICIES = Object.keys(COLORS);
