/** The value of `name` in the repository's `.dev.vars`, or `undefined` when the file or the line is missing. */
export declare function devVar(name: string): string | undefined;
