/** A port on 127.0.0.1 that was free a moment ago (the OS picks it; the caller binds it next). */
export declare function freePort(): Promise<number>;
/** `true` when nothing listens on `port` of 127.0.0.1 right now. */
export declare function isPortFree(port: number): Promise<boolean>;
