/** Asks for the admin token once; it is then kept in this browser. */
import { type FormEvent, useState } from 'react';

export interface TokenFormProps {
  apiBase: string;
  onSubmit(token: string): void;
  onCancel?: () => void;
}

export function TokenForm({ apiBase, onSubmit, onCancel }: TokenFormProps) {
  const [value, setValue] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (value.trim()) onSubmit(value.trim());
  };
  return (
    <form className="token-form" onSubmit={submit} data-testid="token-form">
      <h2>Admin token</h2>
      <p>
        The dashboard reads the worker at <code>{apiBase}</code> with an admin token. Locally, print one with{' '}
        <code>npm run -s token -- --admin</code> (or open the URL <code>npm start</code> prints, which carries it). It is kept in this
        browser only.
      </p>
      <input
        aria-label="Admin token"
        data-testid="token-input"
        value={value}
        onChange={(e) => setValue(e.target.value)}
        placeholder="eyJhbGciOiJIUzI1NiIs…"
        autoComplete="off"
        spellCheck={false}
      />
      <div className="row">
        <button type="submit" disabled={!value.trim()}>
          Use this token
        </button>
        {onCancel && (
          <button type="button" className="secondary" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
