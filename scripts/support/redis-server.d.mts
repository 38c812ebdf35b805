/** Options of `startRedis`. */
export interface StartRedisOptions {
  /** `appendonly yes` with `appendfsync always` (default: no persistence at all). */
  appendonly?: boolean;
  /** Serve TLS only, on the returned port (file paths, PEM). */
  tls?: {
    cert: string;
    key: string;
    /** The CA that client certificates must chain to (redis-server needs one even when it does not ask for them). */
    ca: string;
    /** Require a client certificate (`tls-auth-clients yes`). Default `false`. */
    authClients?: boolean;
  };
  /** Lines of an ACL file, e.g. `user default off` and `user bus on >secret ~mmb:* …`. */
  acl?: string[];
  /** Further redis-server arguments. */
  args?: string[];
}

/** A real redis-server on a free loopback port, in its own temp directory. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`, or `rediss://…` with `tls`. */
  url: string;
  port: number;
  dir: string;
  /** Stops the server (SIGTERM, or SIGKILL with `hard`) and waits until it is gone. */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port and directory. */
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: the process stays, with its sockets open, but answers nothing. */
  freeze(): void;
  thaw(): void;
  /** Stops it and removes its directory. */
  dispose(): Promise<void>;
}

/** Starts redis-server (`REDIS_SERVER` names another binary) and waits until it answers PING. */
export declare function startRedis(options?: StartRedisOptions): Promise<RedisServer>;
