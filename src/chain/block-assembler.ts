import { IndexedHeap, type HeapWalk } from '../util/indexed-heap.ts'
import { childrenOf, closure, parentsOf, type PoolEntry } from './pool-entry.ts'

/**
 * Packages in a row too large for the room left after which a nearly full
 * block is done (Bitcoin Core's MAX_CONSECUTIVE_FAILURES).
 */
const MAX_CONSECUTIVE_FAILURES = 1_000
/** A block within this many bytes of its limit is nearly full (Core: 4,000 weight units, 1,000 virtual bytes). */
const FULL_ENOUGH_BYTES = 1_000

/**
 * A pool transaction some of whose ancestors are already in the block: its
 * package is what is left of them (Core's CTxMemPoolModifiedEntry).
 */
interface ModifiedEntry {
  readonly entry: PoolEntry
  size: number
  fee: number
  /** Its ancestor score with what is left: the lower of its own rate and that package's. */
  score: number
  /** Its position in the index of modified entries. */
  slot: number
}

function modifiedFirst (a: ModifiedEntry, b: ModifiedEntry): boolean {
  const d = a.score - b.score
  return d > 0 || (d === 0 && a.entry.seq < b.entry.seq)
}

/**
 * Chooses a block's transactions as Bitcoin Core's BlockAssembler does
 * (addPackageTxs): the package (a transaction with its unconfirmed ancestors)
 * with the best ancestor score goes in whole, parents first; its descendants'
 * packages shrink by what went in ("modified" entries, in an index of their
 * own), and the better of the pool's next and the best modified one goes next.
 * Its cost is the block's transactions times their package sizes (at most 25),
 * plus the pool entries passed over, never the pool times the block. It works
 * in steps, so a caller can share the thread between them; the pool must not
 * change meanwhile.
 */
export class BlockAssembler {
  readonly #maxBytes: number
  /** The pool in ancestor-score order, best first. */
  readonly #pool: HeapWalk<PoolEntry>
  #head: PoolEntry | undefined
  readonly #inBlock = new Set<PoolEntry>()
  /** Modified entries that did not fit: the pool's order passes them over. */
  readonly #failed = new Set<PoolEntry>()
  readonly #modified = new Map<PoolEntry, ModifiedEntry>()
  readonly #modifiedOrder = new IndexedHeap(modifiedFirst, { get: (m: ModifiedEntry) => m.slot, set: (m: ModifiedEntry, n: number) => { m.slot = n } })
  /** The block's transactions, parents before children. */
  readonly selected: PoolEntry[] = []
  readonly #isInBlock = (e: PoolEntry): boolean => this.#inBlock.has(e)
  #bytes = 0
  #failures = 0
  #done = false

  constructor (byAncestorScore: IndexedHeap<PoolEntry>, maxBytes: number) {
    this.#maxBytes = maxBytes
    this.#pool = byAncestorScore.walk()
    this.#head = this.#pool.next()
  }

  /** Considers up to `steps` packages; true once the block is complete. */
  run (steps = Infinity): boolean {
    for (let n = 0; n < steps && !this.#done; n++) this.#step()
    return this.#done
  }

  #step (): void {
    const head = this.#poolHead()
    const best = this.#modifiedOrder.peek()
    if (head === undefined && best === undefined) {
      this.#done = true
      return
    }
    let entry: PoolEntry
    let size: number
    if (best !== undefined && (head === undefined || best.score > head.templateScore || (best.score === head.templateScore && best.entry.seq < head.seq))) {
      entry = best.entry
      size = best.size
      this.#dropModified(entry)
    } else {
      entry = head as PoolEntry
      size = entry.ancestorSize
      this.#head = this.#pool.next()
    }
    if (this.#bytes + size > this.#maxBytes) {
      if (entry !== head) this.#failed.add(entry)
      if (++this.#failures > MAX_CONSECUTIVE_FAILURES && this.#bytes > this.#maxBytes - FULL_ENOUGH_BYTES) this.#done = true
      return
    }
    this.#failures = 0
    // What of its package is not in the block yet: the ancestors of a transaction in the block are all in it.
    const added = entry.parents.length === 0 ? [entry] : closure([entry], parentsOf, this.#isInBlock)
    // An ancestor has fewer ancestors than its descendants: parents first.
    if (added.length > 1) added.sort((a, b) => a.ancestorCount - b.ancestorCount)
    for (let n = 0; n < added.length; n++) {
      const e = added[n]
      this.#inBlock.add(e)
      this.selected.push(e)
      this.#bytes += e.size
      this.#dropModified(e)
    }
    this.#shrinkDescendants(added)
  }

  /** The pool's next entry not in the block, not modified (its modified form stands for it) and not failed. */
  #poolHead (): PoolEntry | undefined {
    let head = this.#head
    while (head !== undefined && (this.#inBlock.has(head) || this.#modified.has(head) || this.#failed.has(head))) head = this.#pool.next()
    this.#head = head
    return head
  }

  /**
   * `added` went into the block: the packages of their descendants outside it
   * are now what is left of their ancestors. Each such descendant is reached
   * once (through a child of the package: its descendants are all outside)
   * and its package counted afresh, at most 25 entries.
   */
  #shrinkDescendants (added: PoolEntry[]): void {
    const outside: PoolEntry[] = []
    for (let n = 0; n < added.length; n++) {
      const { children } = added[n]
      for (let c = 0; c < children.length; c++) if (!this.#inBlock.has(children[c])) outside.push(children[c])
    }
    if (outside.length === 0) return
    for (const d of closure(outside, childrenOf)) {
      let size = 0
      let fee = 0
      for (const a of closure([d], parentsOf, this.#isInBlock)) {
        size += a.size
        fee += a.feeUnits
      }
      const score = Math.min(d.feeRate, fee / size)
      const m = this.#modified.get(d)
      if (m === undefined) {
        const added = { entry: d, size, fee, score, slot: -1 }
        this.#modified.set(d, added)
        this.#modifiedOrder.push(added)
      } else {
        m.size = size
        m.fee = fee
        m.score = score
        this.#modifiedOrder.update(m)
      }
    }
  }

  #dropModified (e: PoolEntry): void {
    const m = this.#modified.get(e)
    if (m === undefined) return
    this.#modified.delete(e)
    this.#modifiedOrder.delete(m)
  }
}
