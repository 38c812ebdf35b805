/** Index of the first element whose key is greater than `value` in an ascending list (binary search). */
export function firstAbove<T>(list: readonly T[], value: number, key: (item: T) => number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (key(list[mid] as T) <= value) low = mid + 1;
    else high = mid;
  }
  return low;
}
