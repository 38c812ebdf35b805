/** A growable list of numbers in a `Float64Array`: in-process indexes keep one entry per message, so it must stay compact. */
export class NumberList {
  #data: Float64Array;
  #length = 0;

  constructor(capacity = 1024) {
    this.#data = new Float64Array(capacity);
  }

  get length(): number {
    return this.#length;
  }

  get(i: number): number {
    return this.#data[i] as number;
  }

  last(): number | undefined {
    return this.#length === 0 ? undefined : (this.#data[this.#length - 1] as number);
  }

  set(i: number, value: number): void {
    this.#data[i] = value;
  }

  push(value: number): void {
    if (this.#length === this.#data.length) {
      const grown = new Float64Array(this.#data.length * 2);
      grown.set(this.#data);
      this.#data = grown;
    }
    this.#data[this.#length++] = value;
  }

  /** Drops entries from `length` on (cutting a torn tail). */
  truncate(length: number): void {
    this.#length = Math.min(this.#length, length);
  }

  /** A new list of the entries from `start` on, each mapped by `map`. */
  sliceFrom(start: number, map: (value: number) => number = (v) => v): NumberList {
    const out = new NumberList(Math.max(8, this.#length - start));
    for (let i = start; i < this.#length; i++) out.push(map(this.#data[i] as number));
    return out;
  }

  /** Up to `limit` entries greater than `after` and less than `before`, ascending; entries must be ascending. */
  between(after: number, before: number, limit: number): number[] {
    const out: number[] = [];
    for (let i = this.firstAbove(after); i < this.#length && out.length < limit; i++) {
      const value = this.#data[i] as number;
      if (value >= before) break;
      out.push(value);
    }
    return out;
  }

  /** Index of the first entry greater than `value`; entries must be ascending. */
  firstAbove(value: number): number {
    let low = 0;
    let high = this.#length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.#data[mid] as number) <= value) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
