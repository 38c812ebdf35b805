/** Asks for an admin token when there is none, then shows the dashboard. */
import { useMemo, useState } from 'react';
import { ApiClient } from './api/client.js';
import { Dashboard } from './Dashboard.js';
import { useSettings } from './hooks/useSettings.js';
import { TokenForm } from './ui/TokenForm.js';

export function App() {
  const settings = useSettings();
  const [editingToken, setEditingToken] = useState(false);
  const client = useMemo(
    () => (settings.token ? new ApiClient(settings.apiBase, settings.token) : null),
    [settings.apiBase, settings.token],
  );

  if (!client || editingToken) {
    return (
      <div className="token-screen">
        <TokenForm
          apiBase={settings.apiBase}
          onSubmit={(token) => {
            settings.setToken(token);
            setEditingToken(false);
          }}
          {...(client ? { onCancel: () => setEditingToken(false) } : {})}
        />
      </div>
    );
  }
  return <Dashboard settings={settings} client={client} onChangeToken={() => setEditingToken(true)} />;
}
