/** Catches a rendering failure and says so, with a way out, instead of leaving a blank page. */
import { Component, type ReactNode } from 'react';

export interface ErrorBoundaryProps {
  children: ReactNode;
}

export class ErrorBoundary extends Component<ErrorBoundaryProps, { error: Error | null }> {
  override state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <div className="error-notice" role="alert" data-testid="crash-notice">
        <strong>The dashboard hit a bug and stopped drawing</strong>
        <p className="mono">{error.message}</p>
        <p>Reload to start again; if it keeps happening, the browser console has the stack trace.</p>
        <button type="button" onClick={() => window.location.reload()}>
          Reload
        </button>
      </div>
    );
  }
}
