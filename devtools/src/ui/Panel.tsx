/** A titled panel box; every dashboard panel sits in one. */
import type { ReactNode } from 'react';

export interface PanelProps {
  title: string;
  testId: string;
  actions?: ReactNode;
  className?: string;
  children: ReactNode;
}

export function Panel({ title, testId, actions, className, children }: PanelProps) {
  return (
    <section className={`panel ${className ?? ''}`} data-testid={testId} aria-label={title}>
      <header className="panel-header">
        <h2>{title}</h2>
        {actions}
      </header>
      <div className="panel-body">{children}</div>
    </section>
  );
}
