/** Asks for an admin token for the API's origin when there is none, then shows the dashboard. */
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

  if (settings.apiOrigin === null) {
    return (
      <div className="token-screen">
        <p className="token-form" data-testid="bad-api">
          <code>?api=</code> must be an http(s) URL of a worker; got <code>{settings.apiBase}</code>.
        </p>
      </div>
    );
  }
  if (!client || editingToken) {
    return (
      <div className="token-screen">
        <TokenForm
          apiOrigin={settings.apiOrigin}
          foreignApi={settings.foreignApi}
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
