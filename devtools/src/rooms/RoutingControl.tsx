/** Shows and changes the selected room's routing policy (admin `PUT /v1/rooms/:room`). */
import { memo, useState } from 'react';
import type { ApiClient } from '../api/client.js';
import { ApiError } from '../api/errors.js';
import { ROUTING_POLICIES, type RoutingPolicyName } from '../api/types.js';
import { policyColor } from '../ui/policy.js';

export interface RoutingControlProps {
  client: ApiClient;
  room: string;
  policy: string | null;
  onChanged(): void;
}

export const RoutingControl = memo(function RoutingControl({ client, room, policy, onChanged }: RoutingControlProps) {
  const [error, setError] = useState<string | null>(null);
  const change = async (next: RoutingPolicyName) => {
    setError(null);
    try {
      await client.setRouting(room, next);
      onChanged();
    } catch (e) {
      setError(e instanceof ApiError ? `${e.code}: ${e.message}` : String(e));
    }
  };
  return (
    <div className="routing-control">
      <label>
        Routing{' '}
        <select
          data-testid="routing-select"
          value={policy ?? ''}
          style={{ color: policyColor(policy) }}
          onChange={(e) => void change(e.target.value as RoutingPolicyName)}
        >
          {policy && !ROUTING_POLICIES.includes(policy as RoutingPolicyName) && <option value={policy}>{policy}</option>}
          {!policy && <option value="">unknown</option>}
          {ROUTING_POLICIES.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </label>
      {error && <span className="error-text">{error}</span>}
    </div>
  );
});
