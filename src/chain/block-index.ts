import { workOf } from '../core/pow.ts'
import { medianTime } from '../core/rules.ts'
import type { NetworkParams } from '../core/params.ts'
import { cidStringOfDigest, type CID } from '../core/cbor.ts'
import { cidFromDigest, BlockStatus, StoreError, type IndexRecord } from './records.ts'
import type { BlockEntry } from './types.ts'

/** An index entry; its CID object is built on first use (start-up loads thousands that are never asked for). */
class IndexEntry implements BlockEntry {
  readonly idString: string
  readonly prev: string | null
  readonly height: number
  readonly time: number
  readonly bits: number
  readonly chainwork: bigint
  readonly digest: Uint8Array
  status: BlockStatus
  #id: CID | undefined

  constructor (fields: Omit<BlockEntry, 'id'> & { digest: Uint8Array, status: BlockStatus }) {
    this.idString = fields.idString
    this.prev = fields.prev
    this.height = fields.height
    this.time = fields.time
    this.bits = fields.bits
    this.chainwork = fields.chainwork
    this.digest = fields.digest
    this.status = fields.status
  }

  get id (): CID {
    this.#id ??= cidFromDigest(this.digest)
    return this.#id
  }
}

export type { IndexEntry }

/**
 * Every block we hold, as a tree with cumulative work, plus the best chain as
 * an array by height. Lives in memory; rebuilt from the store's index records.
 */
export class BlockIndex {
  readonly #entries = new Map<string, IndexEntry>()
  #best: IndexEntry[] = []
  /** Every entry by height: the one there, or all of them where branches meet (8 bytes a height, not a list each). */
  readonly #byHeight: Array<IndexEntry | IndexEntry[]> = []
  /** Work per compact target: most blocks share a handful of them. */
  readonly #workByBits = new Map<number, bigint>()
  readonly #params: NetworkParams

  constructor (params: NetworkParams) {
    this.#params = params
  }

  get size (): number { return this.#entries.size }

  get tip (): IndexEntry {
    return this.#best[this.#best.length - 1]
  }

  get (id: string): IndexEntry | undefined {
    return this.#entries.get(id)
  }

  /** Every entry, parents before children. */
  entries (): IterableIterator<IndexEntry> {
    return this.#entries.values()
  }

  /** Adds a record whose parent is already indexed (or genesis). */
  add (record: IndexRecord): IndexEntry {
    const prev = record.prevDigest === null ? null : cidStringOfDigest(record.prevDigest)
    const parent = prev === null ? undefined : this.#entries.get(prev)
    // Records load in height order, so either is a damaged database, never a block we accepted.
    if (prev !== null && parent === undefined) throw new StoreError('CORRUPT_INDEX', `index record at height ${record.height} has no parent in the index`)
    if ((parent?.height ?? -1) + 1 !== record.height) throw new StoreError('CORRUPT_INDEX', `index record at height ${record.height} follows one at height ${parent?.height ?? 'none'}`)
    let work = this.#workByBits.get(record.bits)
    if (work === undefined) this.#workByBits.set(record.bits, work = workOf(record.bits))
    const entry = new IndexEntry({
      idString: cidStringOfDigest(record.digest),
      prev,
      height: record.height,
      time: record.time,
      bits: record.bits,
      chainwork: (parent?.chainwork ?? 0n) + work,
      digest: record.digest,
      status: parent?.status === BlockStatus.INVALID ? BlockStatus.INVALID : record.status
    })
    this.#entries.set(entry.idString, entry)
    const there = this.#byHeight[entry.height]
    this.#byHeight[entry.height] = there === undefined ? entry : Array.isArray(there) ? [...there, entry] : [there, entry]
    return entry
  }

  /** Every entry at a height, of any branch and status. */
  allAtHeight (height: number): IndexEntry[] {
    const there = this.#byHeight[height]
    return there === undefined ? [] : Array.isArray(there) ? there : [there]
  }

  /** The entries whose parent is `entry`. */
  childrenOf (entry: IndexEntry): IndexEntry[] {
    return this.allAtHeight(entry.height + 1).filter(e => e.prev === entry.idString)
  }

  toRecord (entry: IndexEntry): IndexRecord {
    const parent = entry.prev === null ? undefined : this.#entries.get(entry.prev)
    return { digest: entry.digest, prevDigest: parent?.digest ?? null, height: entry.height, time: entry.time, bits: entry.bits, status: entry.status }
  }

  /** The entry at a height on the best chain. */
  atHeight (height: number): IndexEntry | undefined {
    return this.#best[height]
  }

  isOnBestChain (entry: IndexEntry): boolean {
    return this.#best[entry.height] === entry
  }

  /** Moves the best chain's tip one block forward or back (after the store has). */
  pushBest (entry: IndexEntry): void {
    if (entry.height !== this.#best.length) throw new Error('best chain must grow by its next height')
    this.#best.push(entry)
  }

  popBest (): IndexEntry {
    const entry = this.#best.pop()
    if (entry === undefined) throw new Error('cannot disconnect genesis')
    return entry
  }

  /** Rebuilds the best chain by walking back from a tip (at startup). */
  setBest (tip: IndexEntry): void {
    const chain: IndexEntry[] = new Array(tip.height + 1)
    for (let e: IndexEntry | undefined = tip; e !== undefined; e = e.prev === null ? undefined : this.#entries.get(e.prev)) chain[e.height] = e
    this.#best = chain
  }

  ancestor (entry: IndexEntry, height: number): IndexEntry {
    if (height > entry.height || height < 0) throw new RangeError(`no ancestor at height ${height} of a block at ${entry.height}`)
    if (this.#best[entry.height] === entry) return this.#best[height]
    let e = entry
    while (e.height > height) {
      const parent = this.#entries.get(e.prev as string) as IndexEntry
      // Once the walk reaches the best chain, index it directly.
      if (this.#best[parent.height] === parent) return this.#best[height]
      e = parent
    }
    return e
  }

  medianTimePast (entry: IndexEntry): number {
    const times: number[] = []
    let e: IndexEntry | undefined = entry
    for (let i = 0; i < this.#params.medianTimeSpan && e !== undefined; i++) {
      times.push(e.time)
      e = e.prev === null ? undefined : this.#entries.get(e.prev)
    }
    return medianTime(times)
  }

  /** The last common block of the best chain and the chain ending at `entry`. */
  fork (entry: IndexEntry): IndexEntry {
    let e = entry
    while (!this.isOnBestChain(e)) e = this.#entries.get(e.prev as string) as IndexEntry
    return e
  }

  /** The valid entry with most work; on a tie `prefer` (the current tip), then the first indexed, stays best. */
  bestCandidate (prefer: IndexEntry = this.tip): IndexEntry {
    let best = prefer
    for (const e of this.#entries.values()) {
      if (e.status === BlockStatus.VALID && e.chainwork > best.chainwork) best = e
    }
    return best
  }

  /** Marks an entry and every descendant invalid; returns them so the caller can persist the change. */
  invalidate (entry: IndexEntry): IndexEntry[] {
    const marked: IndexEntry[] = []
    const invalid = new Set<string>([entry.idString])
    entry.status = BlockStatus.INVALID
    marked.push(entry)
    // Entries are in insertion order, parents before children.
    for (const e of this.#entries.values()) {
      if (e.prev !== null && invalid.has(e.prev) && e.status !== BlockStatus.INVALID) {
        e.status = BlockStatus.INVALID
        invalid.add(e.idString)
        marked.push(e)
      }
    }
    return marked
  }

  /**
   * Bitcoin's block locator: the last 10 best-chain ids, then exponentially
   * sparser back to genesis, so a peer finds our fork point in one round trip.
   */
  locator (): string[] {
    const ids: string[] = []
    let step = 1
    for (let h = this.tip.height; h > 0; h -= step) {
      ids.push(this.#best[h].idString)
      if (ids.length >= 10) step *= 2
    }
    ids.push(this.#best[0].idString)
    return ids
  }
}
