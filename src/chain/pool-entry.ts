import { IndexedHeap } from '../util/indexed-heap.ts'
import type { MempoolEntry } from './types.ts'

/**
 * A mempool transaction with its links in the pool and the totals of its
 * package both ways (Bitcoin Core's CTxMemPoolEntry). The totals are kept up to
 * date on every accept and removal, which the package limits make cheap (at
 * most 24 others each way), so templates and eviction read them instead of
 * walking the pool.
 */
export interface PoolEntry extends MempoolEntry {
  /** Outpoint keys this transaction spends. */
  readonly spends: string[]
  /** Mempool transactions whose outputs it spends (arrays: at most 24, and an empty one costs no table). */
  readonly parents: PoolEntry[]
  /** Mempool transactions spending its outputs. */
  readonly children: PoolEntry[]
  /** Arrival order: of equal scores the earlier goes into templates first and the later is evicted first. */
  readonly seq: number
  /** What the entry costs in memory, estimated (entryUsage). */
  readonly usage: number
  /** The fee as a number, exact: every total of fees stays below 2^53 (they are spent coins). */
  readonly feeUnits: number
  /** Unconfirmed transactions in its package with its ancestors, itself included; their bytes and fees. */
  ancestorCount: number
  ancestorSize: number
  ancestorFee: number
  /** The same with its descendants. */
  descendantCount: number
  descendantSize: number
  descendantFee: number
  /** The last walk that reached it (closure). */
  walk: number
  /** Its positions in the pool's two indexes, and its scores there as of its last change (rescore). */
  ancestorSlot: number
  descendantSlot: number
  templateScore: number
  evictionScore: number
}

/**
 * The order of templates (Core's ancestor score): the lower of its own fee rate
 * and that of its package with its ancestors. A package is taken whole, and a
 * cheap child of a well-paying parent does not ride on the parent's rate.
 */
export function ancestorScore (e: PoolEntry): number {
  return Math.min(e.feeRate, e.ancestorFee / e.ancestorSize)
}

/**
 * The order of eviction (Core's descendant score): the higher of its own fee
 * rate and that of its package with its descendants, which leave with it. A
 * cheap parent is judged with the children that pay for it; a well-paying
 * parent is not judged by a cheap child, which goes first on its own.
 */
export function descendantScore (e: PoolEntry): number {
  return Math.max(e.feeRate, e.descendantFee / e.descendantSize)
}

/** Sets the scores the indexes compare, after its totals changed (then the index is told: update). */
export function rescore (e: PoolEntry): void {
  e.templateScore = ancestorScore(e)
  e.evictionScore = descendantScore(e)
}

/** The template index: best ancestor score first, of equal ones the earlier. */
export function templateIndex (): IndexedHeap<PoolEntry> {
  return new IndexedHeap((a, b) => {
    const d = a.templateScore - b.templateScore
    return d > 0 || (d === 0 && a.seq < b.seq)
  }, { get: e => e.ancestorSlot, set: (e, n) => { e.ancestorSlot = n } })
}

/** The eviction index: lowest descendant score first, of equal ones the newest. */
export function evictionIndex (): IndexedHeap<PoolEntry> {
  return new IndexedHeap((a, b) => {
    const d = a.evictionScore - b.evictionScore
    return d < 0 || (d === 0 && a.seq > b.seq)
  }, { get: e => e.descendantSlot, set: (e, n) => { e.descendantSlot = n } })
}

/** Numbers the walks: an entry reached in the current one carries its number (Core's epochs), so no walk makes a set. */
let walks = 0

/**
 * The entries reached from `start` through `next` (parents or children),
 * transitively, `start` included, each once; those `excluded` are neither
 * taken nor passed through. Bounded by the package limits.
 */
export function closure (start: readonly PoolEntry[], next: (e: PoolEntry) => readonly PoolEntry[], excluded?: (e: PoolEntry) => boolean): PoolEntry[] {
  const walk = ++walks
  const found: PoolEntry[] = []
  const stack = start.slice()
  while (stack.length > 0) {
    const e = stack.pop() as PoolEntry
    if (e.walk === walk || excluded?.(e) === true) continue
    e.walk = walk
    found.push(e)
    const more = next(e)
    for (let n = 0; n < more.length; n++) stack.push(more[n])
  }
  return found
}

export const parentsOf = (e: PoolEntry): readonly PoolEntry[] => e.parents
export const childrenOf = (e: PoolEntry): readonly PoolEntry[] => e.children

/** An entry and everything spending its outputs, transitively. */
export function withDescendants (e: PoolEntry): PoolEntry[] {
  return closure([e], childrenOf)
}
