/** Where an element sits in its heap: kept on the element, so it is found without a search. */
export interface HeapSlot<T> {
  get: (item: T) => number
  set: (item: T, position: number) => void
}

/**
 * A binary heap whose elements know their position: push, delete and re-place
 * after a change of key in O(log n) without allocating, the first element at
 * once, and all of them in order through a walk. (The heaps on npm remove an
 * element by searching for it; a B+ tree allocates on every edit, 1–10 µs an
 * insert or delete here, and a block's connect takes thousands out.)
 */
export class IndexedHeap<T> {
  readonly #items: T[] = []
  /** Whether `a` comes before `b`. */
  readonly #before: (a: T, b: T) => boolean
  readonly #slot: HeapSlot<T>
  readonly #moved: (item: T, position: number) => void

  constructor (before: (a: T, b: T) => boolean, slot: HeapSlot<T>) {
    this.#before = before
    this.#slot = slot
    this.#moved = slot.set
  }

  get size (): number { return this.#items.length }

  /** The element that comes first. */
  peek (): T | undefined { return this.#items[0] }

  push (item: T): void {
    this.#items.push(item)
    siftUp(this.#items, this.#items.length - 1, this.#before, this.#moved)
  }

  delete (item: T): void {
    const at = this.#slot.get(item)
    if (at < 0) return
    this.#slot.set(item, -1)
    const last = this.#items.pop() as T
    if (at === this.#items.length) return
    this.#items[at] = last
    this.#place(at)
  }

  /** Moves `item` to its place after its key changed. */
  update (item: T): void {
    const at = this.#slot.get(item)
    if (at >= 0) this.#place(at)
  }

  /** Holds `items` instead, built in linear time (cheaper than a delete each when most elements leave at once). */
  reset (items: Iterable<T>): void {
    this.#items.length = 0
    for (const item of items) {
      this.#slot.set(item, this.#items.length)
      this.#items.push(item)
    }
    for (let n = (this.#items.length >> 1) - 1; n >= 0; n--) siftDown(this.#items, n, this.#before, this.#moved)
  }

  clear (): void {
    for (let n = 0; n < this.#items.length; n++) this.#slot.set(this.#items[n], -1)
    this.#items.length = 0
  }

  /** The elements in order, one `next()` at a time; the heap must not change meanwhile. */
  walk (): HeapWalk<T> {
    return new HeapWalk(this.#items, this.#before)
  }

  #place (at: number): void {
    if (siftUp(this.#items, at, this.#before, this.#moved) === at) siftDown(this.#items, at, this.#before, this.#moved)
  }
}

/**
 * A heap's elements in order without taking them out: a second heap holds the
 * positions that may come next (the children of those given), so k of them
 * cost O(k log k), whatever the heap holds.
 */
export class HeapWalk<T> {
  readonly #items: readonly T[]
  readonly #frontier: number[]
  readonly #before: (a: number, b: number) => boolean

  constructor (items: readonly T[], before: (a: T, b: T) => boolean) {
    this.#items = items
    this.#frontier = items.length > 0 ? [0] : []
    this.#before = (a, b) => before(items[a], items[b])
  }

  next (): T | undefined {
    const frontier = this.#frontier
    if (frontier.length === 0) return undefined
    const at = frontier[0]
    const last = frontier.pop() as number
    if (frontier.length > 0) {
      frontier[0] = last
      siftDown(frontier, 0, this.#before)
    }
    const child = 2 * at + 1
    if (child < this.#items.length) this.#enter(child)
    if (child + 1 < this.#items.length) this.#enter(child + 1)
    return this.#items[at]
  }

  #enter (position: number): void {
    this.#frontier.push(position)
    siftUp(this.#frontier, this.#frontier.length - 1, this.#before)
  }
}

/** Moves the element at `at` up to its place; returns where it ended. */
function siftUp<T> (items: T[], at: number, before: (a: T, b: T) => boolean, moved?: (item: T, position: number) => void): number {
  const item = items[at]
  while (at > 0) {
    const parent = (at - 1) >> 1
    if (!before(item, items[parent])) break
    items[at] = items[parent]
    moved?.(items[at], at)
    at = parent
  }
  items[at] = item
  moved?.(item, at)
  return at
}

function siftDown<T> (items: T[], at: number, before: (a: T, b: T) => boolean, moved?: (item: T, position: number) => void): void {
  const item = items[at]
  for (;;) {
    let child = 2 * at + 1
    if (child >= items.length) break
    if (child + 1 < items.length && before(items[child + 1], items[child])) child++
    if (!before(items[child], item)) break
    items[at] = items[child]
    moved?.(items[at], at)
    at = child
  }
  items[at] = item
  moved?.(item, at)
}
