/** An error shown plainly: what happened, what to do, and an optional button. */
import type { ReactNode } from 'react';
import { type ApiError, describeError } from '../api/errors.js';

export interface ErrorNoticeProps {
  error: ApiError;
  apiBase: string;
  room?: string | null;
  action?: ReactNode;
}

export function ErrorNotice({ error, apiBase, room, action }: ErrorNoticeProps) {
  const { title, advice } = describeError(error, { apiBase, room: room ?? null });
  return (
    <div className="error-notice" role="alert" data-testid="error-notice" data-kind={error.kind} data-code={error.code}>
      <strong>{title}</strong>
      <p>{advice}</p>
      {action}
    </div>
  );
}
