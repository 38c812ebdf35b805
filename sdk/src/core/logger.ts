/** Anything shaped like `console` or a pino logger. */
export interface Logger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

/** Lowest level that is printed. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Context every line of the bus carries. */
export interface LogContext {
  room: string;
  agent?: string;
  [key: string]: unknown;
}

/**
 * Filters by level and prefixes each line with the room and agent, so lines
 * from many rooms in one process can be told apart:
 * `[modular-message-bus] room=lobby agent=alice message rejected`.
 * The context object is passed too, for structured loggers.
 */
export class BusLogger {
  readonly #target: Logger;
  readonly #min: number;

  constructor(target: Logger = console, level: LogLevel = 'warn') {
    this.#target = target;
    this.#min = RANK[level];
  }

  debug(message: string, context: LogContext): void {
    if (this.#min <= RANK.debug) this.#target.debug(format(message, context), context);
  }
  info(message: string, context: LogContext): void {
    if (this.#min <= RANK.info) this.#target.info(format(message, context), context);
  }
  warn(message: string, context: LogContext): void {
    if (this.#min <= RANK.warn) this.#target.warn(format(message, context), context);
  }
  error(message: string, context: LogContext): void {
    if (this.#min <= RANK.error) this.#target.error(format(message, context), context);
  }
}

function format(message: string, context: LogContext): string {
  const agent = context.agent === undefined ? '' : ` agent=${context.agent}`;
  return `[modular-message-bus] room=${context.room}${agent} ${message}`;
}
