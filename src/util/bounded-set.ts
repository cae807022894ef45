/** A set that forgets its oldest entries beyond `max` (a Set iterates in insertion order). */
export class BoundedSet<T> {
  readonly #items = new Set<T>()
  readonly #max: number

  constructor (max: number) {
    this.#max = max
  }

  get size (): number { return this.#items.size }

  has (item: T): boolean {
    return this.#items.has(item)
  }

  add (item: T): void {
    if (this.#items.has(item)) return
    if (this.#items.size >= this.#max) {
      const oldest = this.#items.values().next()
      if (oldest.done !== true) this.#items.delete(oldest.value)
    }
    this.#items.add(item)
  }
}
