/** The repository root. */
export declare const ROOT: string;

export interface StartWranglerOptions {
  /**
   * A wrangler config path (default: the root `wrangler.toml`). When its `[assets]` directory (the devtools build)
   * does not exist, a copy without `[assets]` is used, so tests run before the devtools are built (the worker then
   * answers `/devtools` with a JSON 404).
   */
  config?: string;
  /** Extra vars passed as `--var NAME:VALUE` (they override wrangler.toml and `.dev.vars`). */
  vars?: Record<string, string>;
  /**
   * The state directory (`--persist-to`); default a fresh temp dir, removed by `stop()` unless you passed your
   * own. `restart()` keeps it, so stored messages survive a restart as they would in production.
   */
  persistTo?: string;
  /** Default: a free loopback port. */
  port?: number;
  /** Default 60 000. */
  readyTimeoutMs?: number;
  /** Print wrangler's output (default: only when it fails to start). */
  verbose?: boolean;
  /** Called when wrangler, once up, exits without `stop()` (it crashed), with its exit code and output. */
  onExit?: (code: number | null, output: string) => void;
}

export interface WranglerServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  persistTo: string;
  /** The BUS_SECRET in effect (from `vars`, else `.dev.vars`), for signing test tokens. */
  secret: string;
  /** Stops the server (and removes a temp persistence dir it created). */
  stop(): Promise<void>;
  /** Stops and starts again on the same port with the same persisted state. */
  restart(): Promise<void>;
  /** What wrangler printed so far. */
  output(): string;
}

/**
 * Starts `wrangler dev` in its own process group and resolves once it answers `/metrics`. It is stopped by its
 * own pid only, and killed with this process should that exit first.
 */
export declare function startWrangler(options?: StartWranglerOptions): Promise<WranglerServer>;
