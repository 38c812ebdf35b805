/**
 * How deep a JSON value nests, checked without recursion: a value nested
 * thousands of levels deep overflows the stack of any recursive walk, the
 * structured clone of a Durable Object RPC included. The worker checks content
 * with this before it leaves the request (MAX_CONTENT_DEPTH, default 64).
 * Kept on its own so it can give way to the SDK's `maxContentDepth` check.
 */

/** Default of MAX_CONTENT_DEPTH. */
export const DEFAULT_MAX_CONTENT_DEPTH = 64;

/**
 * `true` when arrays and objects in `value` nest more than `maxDepth` levels.
 * A string or number is depth 0, `[]` and `{}` depth 1, `[[1]]` depth 2.
 *
 * @example
 * ```ts
 * exceedsDepth({ a: [1] }, 2); // false
 * exceedsDepth({ a: [[1]] }, 2); // true
 * ```
 */
export function exceedsDepth(value: unknown, maxDepth: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (typeof next.value !== 'object' || next.value === null) continue;
    const depth = next.depth + 1;
    if (depth > maxDepth) return true;
    for (const child of Object.values(next.value)) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth });
    }
  }
  return false;
}
