/**
 * Asks for the admin token of one API origin, named plainly; the token is then
 * kept in this browser for that origin only. When `?api=` points the dashboard
 * at another origin than the page's, it says so: a token pasted here goes to
 * that origin, so it must be one issued by that worker.
 */
import { type FormEvent, useState } from 'react';

export interface TokenFormProps {
  /** The origin the token is for (and the only one it will be sent to). */
  apiOrigin: string;
  /** `true` when that origin is not the one the page was loaded from. */
  foreignApi: boolean;
  onSubmit(token: string): void;
  onCancel?: () => void;
}

export function TokenForm({ apiOrigin, foreignApi, onSubmit, onCancel }: TokenFormProps) {
  const [value, setValue] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (value.trim()) onSubmit(value.trim());
  };
  return (
    <form className="token-form" onSubmit={submit} data-testid="token-form">
      <h2>
        Admin token for{' '}
        <code className="token-origin" data-testid="token-origin">
          {apiOrigin}
        </code>
      </h2>
      {foreignApi && <ForeignOriginWarning apiOrigin={apiOrigin} />}
      <p>
        The dashboard reads the worker at <code>{apiOrigin}</code> with an admin token. Locally, print one with{' '}
        <code>npm run -s token -- --admin</code> (or open the URL <code>npm start</code> prints, which carries it). It is kept in this
        browser for this origin only, and sent nowhere else.
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

function ForeignOriginWarning({ apiOrigin }: { apiOrigin: string }) {
  const own = new URL(window.location.href);
  own.searchParams.delete('api');
  return (
    <p className="token-warning" data-testid="token-foreign-origin">
      This link points the dashboard at <strong>{apiOrigin}</strong>, which is not the origin this dashboard was loaded from (
      {window.location.origin}). Paste a token only if that worker issued it; tokens entered for other origins are never sent there.{' '}
      <a href={own.toString()}>Open this dashboard's own worker instead</a>.
    </p>
  );
}
