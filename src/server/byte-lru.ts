// A least-recently-used map bounded by bytes: the dashboard's replay cache holds
// snapshots (parameters and optimizer slots) up to a memory budget and forgets the ones
// looked at longest ago. A Map iterates in insertion order, so re-inserting on every
// hit keeps the oldest entry first.

export class ByteLru<K, V> {
  private readonly entries = new Map<K, { readonly value: V; readonly bytes: number }>()
  private total = 0

  /** `onEvict` hears every entry dropped to stay within `maxBytes` (not explicit deletes). */
  constructor(
    readonly maxBytes: number,
    private readonly onEvict: (key: K, value: V) => void = () => undefined,
  ) {}

  get bytes(): number {
    return this.total
  }

  get size(): number {
    return this.entries.size
  }

  /** The value, marked as just used. */
  get(key: K): V | undefined {
    const e = this.entries.get(key)
    if (e === undefined) return undefined
    this.entries.delete(key)
    this.entries.set(key, e)
    return e.value
  }

  /** The value without marking it used. */
  peek(key: K): V | undefined {
    return this.entries.get(key)?.value
  }

  has(key: K): boolean {
    return this.entries.has(key)
  }

  /** Stores a value; an entry larger than the whole budget is not kept. */
  set(key: K, value: V, bytes: number): void {
    this.delete(key)
    if (bytes > this.maxBytes) return
    this.entries.set(key, { value, bytes })
    this.total += bytes
    for (const [k, e] of this.entries) {
      if (this.total <= this.maxBytes) break
      this.entries.delete(k)
      this.total -= e.bytes
      this.onEvict(k, e.value)
    }
  }

  delete(key: K): void {
    const e = this.entries.get(key)
    if (e === undefined) return
    this.entries.delete(key)
    this.total -= e.bytes
  }
}
