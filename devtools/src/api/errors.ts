/**
 * Errors the dashboard can explain. Every failure of the API layer becomes an
 * `ApiError` with a `kind` the UI maps to a sentence and an action, so no panel
 * ever renders blank because a request failed.
 */

export type ApiErrorKind = 'unreachable' | 'unauthorized' | 'forbidden' | 'not-found' | 'misconfigured' | 'rejected' | 'server';

export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  /** The server's error code (`UNAUTHORIZED`, `UNKNOWN_GROUP`, …) or `NETWORK` when nothing answered. */
  readonly code: string;
  /** HTTP status, 0 when the request never got an answer. */
  readonly status: number;

  constructor(kind: ApiErrorKind, code: string, status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
    this.code = code;
    this.status = status;
  }

  /** Builds the error from a response status and its `{ error: { code, message } }` body (or whatever came instead). */
  static fromResponse(status: number, body: unknown): ApiError {
    const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = typeof error?.code === 'string' ? error.code : `HTTP_${status}`;
    const message = typeof error?.message === 'string' ? error.message : `The worker answered ${status} without an error body.`;
    return new ApiError(kindOf(status, code), code, status, message);
  }

  static unreachable(url: string, cause: unknown): ApiError {
    const why = cause instanceof Error ? cause.message : String(cause);
    return new ApiError('unreachable', 'NETWORK', 0, `No answer from ${url} (${why}).`);
  }
}

function kindOf(status: number, code: string): ApiErrorKind {
  if (status === 401 || code === 'UNAUTHORIZED') return 'unauthorized';
  if (status === 403 || code === 'FORBIDDEN') return 'forbidden';
  if (code === 'NOT_FOUND' || (status === 404 && !code.startsWith('UNKNOWN_'))) return 'not-found';
  if (code === 'MISCONFIGURED') return 'misconfigured';
  if (status >= 500) return 'server';
  return 'rejected';
}

/** Headline and advice for an error, worded for the person at the dashboard. */
export function describeError(error: ApiError, context: { apiBase: string; room?: string | null }): { title: string; advice: string } {
  switch (error.kind) {
    case 'unreachable':
      return {
        title: 'The worker is not answering',
        advice: `Nothing answered at ${context.apiBase}. Start it with \`npm start\` (or \`npx wrangler dev\`); the dashboard retries on its own.`,
      };
    case 'unauthorized':
      return {
        title: 'The admin token was refused',
        advice: `${error.message} Paste a fresh admin token (\`npm run -s token -- --admin\`) with "Change token".`,
      };
    case 'forbidden':
      return {
        title: 'This token is not an admin token',
        advice: `${error.message} The dashboard needs a token with role "admin": \`npm run -s token -- --admin\`.`,
      };
    case 'not-found':
      return {
        title: context.room ? `Room "${context.room}" does not exist` : 'Not found',
        advice: `${error.message} Pick a room from the list, or create one by connecting an agent to it.`,
      };
    case 'misconfigured':
      return { title: 'The worker is misconfigured', advice: error.message };
    case 'server':
      return {
        title: `The worker failed (${error.code})`,
        advice: `${error.message} Check the wrangler dev output; the dashboard retries.`,
      };
    default:
      return { title: `Rejected: ${error.code}`, advice: error.message };
  }
}
