import type { Block } from '../core/block.ts'
import { TxError, type TxErrorCode } from '../core/errors.ts'
import type { NetworkParams } from '../core/params.ts'
import { checkTxInputs, checkTxSanity, sigChecksOf, type Coin } from '../core/rules.ts'
import { outpointKey, parseOutpointKey } from '../core/outpoint.ts'
import { Tx } from '../core/tx.ts'
import { BlockAssembler } from './block-assembler.ts'
import { entryUsage } from './mempool-usage.ts'
import { childrenOf, closure, descendantScore, evictionIndex, parentsOf, rescore, templateIndex, withDescendants, type PoolEntry } from './pool-entry.ts'
import type { SignatureVerifier } from './sig-verifier.ts'
import type { ChainReader, MempoolView } from './ports.ts'
import type { MempoolEntry } from './types.ts'

export interface MempoolComponents {
  params: NetworkParams
  chainTag: Uint8Array
  verifier: SignatureVerifier
}

/** The chain's state a transaction is checked against, in the chain's turn: its confirmed coins, and the tip's height. */
export type ConfirmedState = Pick<ChainReader, 'getCoins' | 'height'>

/** A transaction taken in, and what left to make room for it (evicted: gone without a block or a conflict). */
export interface Accepted {
  entry: MempoolEntry
  evicted: Tx[]
}

/**
 * How large a package of unconfirmed transactions may grow (Bitcoin Core's
 * -limitancestorcount and friends): each check walks at most this many, and
 * a chain of them cannot make templates or eviction costly.
 */
export interface PackageLimits {
  /** Transactions in a package with its ancestors, itself included. */
  ancestorCount: number
  /** Serialised bytes of that package. */
  ancestorBytes: number
  /** Transactions in a package with its descendants, itself included. */
  descendantCount: number
  descendantBytes: number
}

/** Bitcoin Core's defaults: 25 transactions, 101 kvB. */
export const DEFAULT_PACKAGE_LIMITS: PackageLimits = { ancestorCount: 25, ancestorBytes: 101_000, descendantCount: 25, descendantBytes: 101_000 }

/** Refusals for the package limits: policy, and the transaction may enter once some of its ancestors confirm. */
export const PACKAGE_LIMIT_CODES: readonly TxErrorCode[] = ['TOO_MANY_ANCESTORS', 'ANCESTORS_TOO_LARGE', 'TOO_MANY_DESCENDANTS', 'DESCENDANTS_TOO_LARGE']

export function isPackageLimitError (err: unknown): err is TxError {
  return err instanceof TxError && PACKAGE_LIMIT_CODES.includes(err.code)
}

/**
 * A template's work runs in slices this long at most, the event loop served
 * between them: the caller's own work after the last one (the coinbase, the
 * transaction list's CID: 2–3 ms for a full block) must fit in "a few ms" too.
 */
const TEMPLATE_SLICE_MS = 2
/** Packages considered between two looks at the clock. */
const TEMPLATE_STEPS_PER_LOOK = 16

export interface MempoolInit {
  /** Bound of the entries' estimated memory (usage), in bytes. */
  maxBytes?: number
  /** Least fee per byte, in base units, to enter (and be relayed). */
  minFeeRate?: number
  limits?: Partial<PackageLimits>
}

/**
 * Unconfirmed transactions, validated against the UTXO set plus the mempool
 * itself (so unconfirmed change can be spent), within package limits, bounded
 * by their memory with the lowest-paying packages evicted first. Two indexes
 * (heaps) are kept as entries come and go: by ancestor score for templates, by
 * descendant score for eviction. It changes only through the chain, in the
 * chain's turn; everyone else sees it as a MempoolView.
 */
export class Mempool implements MempoolView {
  readonly #c: MempoolComponents
  readonly #maxBytes: number
  readonly minFeeRate: number
  readonly limits: PackageLimits
  readonly #entries = new Map<string, PoolEntry>()
  /** Outpoint key -> the mempool transaction spending it. */
  readonly #spentBy = new Map<string, PoolEntry>()
  /** Transactions by a slice of their bytes, to find a block's without hashing them (see findByBytes). */
  readonly #byFingerprint = new Map<number, PoolEntry>()
  readonly #byAncestorScore = templateIndex()
  readonly #byDescendantScore = evictionIndex()
  #bytes = 0
  #usage = 0
  #seq = 0
  /** Counts the entries that came or went: a template chosen at one count holds until the next. */
  #version = 0
  /** The last template's transactions, dropped at the next change (it would keep entries that left alive). */
  #template: { maxBytes: number, entries: PoolEntry[] } | undefined
  #evictionLookups = 0
  /** While a block's transactions leave: the heaps are built afresh after, so #drop leaves them be. */
  #heapsRebuilt = false

  constructor (components: MempoolComponents, init: MempoolInit = {}) {
    this.#c = components
    this.#maxBytes = init.maxBytes ?? 64_000_000
    this.minFeeRate = init.minFeeRate ?? 1
    this.limits = { ...DEFAULT_PACKAGE_LIMITS, ...init.limits }
  }

  get size (): number { return this.#entries.size }
  /** Serialised bytes of the transactions. */
  get bytes (): number { return this.#bytes }
  /** Their estimated memory, which maxBytes bounds. */
  get usage (): number { return this.#usage }
  get maxBytes (): number { return this.#maxBytes }
  /**
   * Index entries eviction passes have looked at, in all: those they evicted,
   * the newcomers' ancestors they kept and packages already taken, never the
   * rest of the pool.
   */
  get evictionLookups (): number { return this.#evictionLookups }

  has (id: string): boolean { return this.#entries.has(id) }
  get (id: string): MempoolEntry | undefined { return this.#entries.get(id) }
  entries (): IterableIterator<MempoolEntry> { return this.#entries.values() }

  /**
   * The mempool's transaction with exactly these bytes (so the same id), found
   * without hashing them: a block full of known transactions decodes without
   * one SHA-256 each. A fingerprint (bytes that fall inside the first
   * signature) picks the candidate; only equal bytes count.
   */
  findByBytes (bytes: Uint8Array): Tx | undefined {
    const candidate = this.#byFingerprint.get(fingerprintOf(bytes))?.tx
    return candidate !== undefined && Buffer.compare(candidate.bytes, bytes) === 0 ? candidate : undefined
  }

  /** An unconfirmed output, as a coin of the next block's height. */
  #mempoolCoin (key: string, nextHeight: number): Coin | undefined {
    const { txid, index } = parseOutpointKey(key)
    const parent = this.#entries.get(txid)
    const out = parent?.tx.data.outputs[index]
    return out === undefined ? undefined : { amount: out.amount, address: out.address, height: nextHeight, coinbase: false }
  }

  /**
   * Validates a transaction (arrived at `time`) against the chain's coins and
   * the pool's own, and adds it, evicting what pays least when full; throws
   * TxError with a code when it does not qualify.
   */
  async accept (offered: Tx, chain: ConfirmedState, time: number): Promise<Accepted> {
    if (this.#entries.has(offered.idString)) throw new TxError('ALREADY_KNOWN', `${offered.idString} is already in the mempool`)
    checkTxSanity(offered)
    if (offered.isCoinbase) throw new TxError('COINBASE_IN_MEMPOOL', 'a coinbase is only valid in a block')
    const tx = ownCopy(offered)
    const spends = tx.inputKeys()
    for (const key of spends) {
      const other = this.#spentBy.get(key)
      if (other !== undefined) throw new TxError('CONFLICT', `${key} is already spent by ${other.tx.idString}`)
    }
    const nextHeight = chain.height + 1
    const fromChain = spends.filter(key => this.#mempoolCoin(key, nextHeight) === undefined)
    const firstOwnOutput = outpointKey(tx.idString, 0)
    const chainCoins = await chain.getCoins([...fromChain, firstOwnOutput])
    if (chainCoins.has(firstOwnOutput)) throw new TxError('ALREADY_KNOWN', `${tx.idString} is already confirmed`)
    const { fee } = checkTxInputs(tx, key => this.#mempoolCoin(key, nextHeight) ?? chainCoins.get(key), nextHeight, this.#c.params)
    const size = tx.bytes.length
    const feeRate = Number(fee) / size
    if (feeRate < this.minFeeRate) throw new TxError('FEE_TOO_LOW', `fee rate ${feeRate.toFixed(2)}/byte is below the minimum ${this.minFeeRate}/byte`)
    const usage = entryUsage(tx)
    // Both refusals before the signatures are verified: a peer cannot make either cost a verification.
    this.#packageOf(tx, spends)
    if (this.#usage + usage > this.#maxBytes && feeRate <= this.#lowestScore()) throw mempoolFull(feeRate)
    if (!await this.#c.verifier.verifyAll(sigChecksOf(tx, this.#c.chainTag))) throw new TxError('BAD_SIGNATURE', `${tx.idString} has an invalid signature`)
    // Another accept may have raced ahead during the verification above.
    if (this.#entries.has(tx.idString)) throw new TxError('ALREADY_KNOWN', `${tx.idString} is already in the mempool`)
    for (const key of spends) if (this.#spentBy.has(key)) throw new TxError('CONFLICT', `${key} was spent meanwhile`)
    const { parents, ancestors } = this.#packageOf(tx, spends)
    const evicted = this.#makeRoom(usage, feeRate, ancestors)
    const feeUnits = Number(fee)
    let ancestorSize = size
    let ancestorFee = feeUnits
    for (const a of ancestors) {
      ancestorSize += a.size
      ancestorFee += a.feeUnits
    }
    const entry: PoolEntry = {
      tx,
      fee,
      size,
      feeRate,
      time,
      spends,
      parents,
      children: [],
      seq: this.#seq++,
      usage,
      feeUnits,
      ancestorCount: ancestors.size + 1,
      ancestorSize,
      ancestorFee,
      descendantCount: 1,
      descendantSize: size,
      descendantFee: feeUnits,
      walk: 0,
      ancestorSlot: -1,
      descendantSlot: -1,
      templateScore: 0,
      evictionScore: 0
    }
    rescore(entry)
    for (const a of ancestors) this.#countDescendant(a, entry, 1)
    for (const p of parents) p.children.push(entry)
    this.#entries.set(tx.idString, entry)
    this.#byFingerprint.set(fingerprintOf(tx.bytes), entry)
    for (const key of spends) this.#spentBy.set(key, entry)
    this.#byAncestorScore.push(entry)
    this.#byDescendantScore.push(entry)
    this.#bytes += size
    this.#usage += usage
    this.#changed()
    return { entry, evicted }
  }

  /**
   * The mempool parents and ancestors of a transaction, or a TxError naming
   * the package limit it would break. The walk stops at the
   * first limit passed, so a long chain costs no more than the limit (Core's
   * CalculateMemPoolAncestors).
   */
  #packageOf (tx: Tx, spends: string[]): { parents: PoolEntry[], ancestors: Set<PoolEntry> } {
    const size = tx.bytes.length
    const found = new Set<PoolEntry>()
    for (const key of spends) {
      const parent = this.#entries.get(parseOutpointKey(key).txid)
      if (parent !== undefined) found.add(parent)
    }
    const parents = [...found]
    const { ancestorCount, ancestorBytes, descendantCount, descendantBytes } = this.limits
    const ancestors = new Set<PoolEntry>()
    const stack = parents.slice()
    let bytes = size
    while (stack.length > 0) {
      const a = stack.pop() as PoolEntry
      if (ancestors.has(a)) continue
      ancestors.add(a)
      bytes += a.size
      if (ancestors.size + 1 > ancestorCount) {
        // One parent (a chain): its own count makes the figure exact.
        const count = Math.max(ancestors.size + 1, ...parents.map(p => p.ancestorCount + 1))
        throw new TxError('TOO_MANY_ANCESTORS', `${tx.idString} would make ${count} unconfirmed transactions with its ancestors, over the limit of ${ancestorCount}`)
      }
      if (bytes > ancestorBytes) {
        const total = Math.max(bytes, ...parents.map(p => p.ancestorSize + size))
        throw new TxError('ANCESTORS_TOO_LARGE', `${tx.idString} and its unconfirmed ancestors would make ${total} bytes, over the limit of ${ancestorBytes}`)
      }
      if (a.descendantCount + 1 > descendantCount) {
        throw new TxError('TOO_MANY_DESCENDANTS', `${tx.idString} would give its unconfirmed ancestor ${a.tx.idString} ${a.descendantCount + 1} transactions with its descendants, over the limit of ${descendantCount}`)
      }
      if (a.descendantSize + size > descendantBytes) {
        throw new TxError('DESCENDANTS_TOO_LARGE', `${tx.idString} would give its unconfirmed ancestor ${a.tx.idString} ${a.descendantSize + size} bytes with its descendants, over the limit of ${descendantBytes}`)
      }
      for (const p of a.parents) stack.push(p)
    }
    return { parents, ancestors }
  }

  /** The lowest descendant score in the pool (Infinity when empty): while full, a newcomer must pay more. */
  #lowestScore (): number {
    const lowest = this.#byDescendantScore.peek()
    return lowest === undefined ? Infinity : descendantScore(lowest)
  }

  /**
   * Evicts packages (a transaction with its descendants, which go with it),
   * lowest descendant score first, until `usage` more bytes fit, never an
   * ancestor of the newcomer (`keep`). All or nothing: when room would take a
   * package paying at or above the newcomer's rate, nothing is evicted. It
   * walks the eviction index from its low end: its cost is what it evicts and
   * skips, whatever the pool holds. Returns what it evicted.
   */
  #makeRoom (usage: number, feeRate: number, keep: Set<PoolEntry>): Tx[] {
    let excess = this.#usage + usage - this.#maxBytes
    if (excess <= 0) return []
    const evict = new Set<PoolEntry>()
    const walk = this.#byDescendantScore.walk()
    for (let candidate = walk.next(); candidate !== undefined; candidate = walk.next()) {
      this.#evictionLookups++
      if (keep.has(candidate) || evict.has(candidate)) continue
      // Every later package scored at least this much.
      if (descendantScore(candidate) >= feeRate) break
      // Its score without what is already taken: a package left paying more than the newcomer stays.
      let fee = 0
      let size = 0
      const members: PoolEntry[] = []
      for (const m of withDescendants(candidate)) {
        if (evict.has(m)) continue
        members.push(m)
        fee += m.feeUnits
        size += m.size
      }
      if (Math.max(candidate.feeRate, fee / size) >= feeRate) continue
      for (const m of members) {
        evict.add(m)
        excess -= m.usage
      }
      if (excess <= 0) break
    }
    if (excess > 0) throw mempoolFull(feeRate)
    const evicted = [...evict]
    this.#remove(evicted)
    return evicted.map(e => e.tx)
  }

  /** Removes a transaction and everything spending its outputs; returns what left. */
  removeWithDescendants (id: string): Tx[] {
    const entry = this.#entries.get(id)
    if (entry === undefined) return []
    const leaving = withDescendants(entry)
    this.#remove(leaving)
    return leaving.map(e => e.tx)
  }

  /**
   * Removes entries; those staying no longer count them in their packages:
   * ancestors lose them from their descendant totals, descendants (when a
   * mined parent leaves its children) from their ancestor totals.
   */
  #remove (leaving: PoolEntry[]): void {
    const gone = new Set(leaving)
    for (const e of leaving) {
      if (e.parents.length > 0) for (const a of closure(e.parents, parentsOf)) if (!gone.has(a)) this.#countDescendant(a, e, -1)
      if (e.children.length > 0) {
        for (const d of closure(e.children, childrenOf)) {
          if (gone.has(d)) continue
          d.ancestorCount--
          d.ancestorSize -= e.size
          d.ancestorFee -= e.feeUnits
          // Its place in the template index moves with its totals.
          rescore(d)
          this.#byAncestorScore.update(d)
        }
      }
    }
    for (const e of leaving) this.#drop(e)
  }

  /** Adds `e` to the descendant totals of its ancestor `a` (sign 1) or takes it out (-1); a's place in the eviction index moves with them. */
  #countDescendant (a: PoolEntry, e: PoolEntry, sign: 1 | -1): void {
    a.descendantCount += sign
    a.descendantSize += sign * e.size
    a.descendantFee += sign * e.feeUnits
    rescore(a)
    this.#byDescendantScore.update(a)
  }

  /** Takes one entry out of the maps, the indexes and its neighbours' links (their totals are #remove's). */
  #drop (entry: PoolEntry): void {
    this.#entries.delete(entry.tx.idString)
    if (!this.#heapsRebuilt) {
      this.#byAncestorScore.delete(entry)
      this.#byDescendantScore.delete(entry)
    }
    // Indexed loops: #drop runs for every mined transaction, and for-of makes an iterator object per element.
    const { parents, children, spends } = entry
    for (let n = 0; n < parents.length; n++) unlink(parents[n].children, entry)
    for (let n = 0; n < children.length; n++) unlink(children[n].parents, entry)
    const fingerprint = fingerprintOf(entry.tx.bytes)
    if (this.#byFingerprint.get(fingerprint) === entry) this.#byFingerprint.delete(fingerprint)
    for (let n = 0; n < spends.length; n++) this.#spentBy.delete(spends[n])
    this.#bytes -= entry.size
    this.#usage -= entry.usage
    this.#changed()
  }

  /** After a block connects: its transactions leave, and so does anything spending what it spent. */
  removeForBlock (block: Block): Tx[] {
    const removed: Tx[] = []
    const { txs } = block
    // A block mostly takes what it mines from the pool: past a point, both heaps built afresh
    // from what stays (linear) cost less than two deletes for each transaction that leaves.
    this.#heapsRebuilt = txs.length * Math.log2(this.#entries.size + 2) > this.#entries.size
    try {
      this.#removeMined(txs, removed)
    } finally {
      if (this.#heapsRebuilt) {
        this.#heapsRebuilt = false
        this.#byAncestorScore.reset(this.#entries.values())
        this.#byDescendantScore.reset(this.#entries.values())
      }
    }
    return removed
  }

  #removeMined (txs: readonly Tx[], removed: Tx[]): void {
    for (let t = 0; t < txs.length; t++) {
      const tx = txs[t]
      const mined = this.#entries.get(tx.idString)
      if (mined !== undefined) {
        // Children stay: their parent is now confirmed.
        if (mined.parents.length === 0 && mined.children.length === 0) this.#drop(mined)
        else this.#remove([mined])
        removed.push(tx)
        // What it spent, only it spent in the pool: no conflict to look for.
        continue
      }
      if (tx.isCoinbase) continue
      for (const key of tx.inputKeys()) {
        const conflict = this.#spentBy.get(key)
        if (conflict !== undefined) removed.push(...this.removeWithDescendants(conflict.tx.idString))
      }
    }
  }

  /** Empties the pool, returning its transactions in arrival order (to re-validate after a reorganisation). */
  clear (): Tx[] {
    const txs = [...this.#entries.values()].map(e => e.tx)
    this.#entries.clear()
    this.#byFingerprint.clear()
    this.#spentBy.clear()
    this.#byAncestorScore.clear()
    this.#byDescendantScore.clear()
    this.#bytes = 0
    this.#usage = 0
    this.#changed()
    return txs
  }

  /**
   * Transactions for a block template within maxBytes: packages by ancestor
   * score, parents before children (BlockAssembler), in slices of a few
   * milliseconds, the event loop served between them (RPC, gossip) and after
   * the last one, so that the caller's work with the result starts a slice of
   * its own. Meant to run while nothing else changes the pool (the chain's
   * queue); should the pool change between slices, it starts over on the new pool.
   */
  async selectForBlock (maxBytes: number): Promise<MempoolEntry[]> {
    for (;;) {
      const cached = this.#cachedTemplate(maxBytes)
      if (cached !== undefined) return cached
      const version = this.#version
      const assembler = new BlockAssembler(this.#byAncestorScore, maxBytes)
      let sliceStart = performance.now()
      let done = false
      while (this.#version === version && !done) {
        done = assembler.run(TEMPLATE_STEPS_PER_LOOK)
        if (!done && performance.now() - sliceStart < TEMPLATE_SLICE_MS) continue
        await new Promise(resolve => setImmediate(resolve))
        sliceStart = performance.now()
      }
      if (this.#version === version) return this.#remember(maxBytes, assembler.selected)
    }
  }

  #changed (): void {
    this.#version++
    this.#template = undefined
  }

  /** The last template's transactions when nothing came or went since (a miner asks every few seconds). */
  #cachedTemplate (maxBytes: number): PoolEntry[] | undefined {
    return this.#template?.maxBytes === maxBytes ? this.#template.entries : undefined
  }

  #remember (maxBytes: number, entries: PoolEntry[]): PoolEntry[] {
    this.#template = { maxBytes, entries }
    return entries
  }
}

function unlink (list: PoolEntry[], entry: PoolEntry): void {
  const at = list.indexOf(entry)
  if (at >= 0) list.splice(at, 1)
}

/**
 * The transaction with bytes of its own: one decoded from a larger message (a
 * block, a gossip frame, an encoder's or Node's shared buffer) views that
 * message and would pin all of it for as long as it stays. An entry holds only
 * what it is charged for.
 */
function ownCopy (tx: Tx): Tx {
  return tx.bytes.byteLength === tx.bytes.buffer.byteLength ? tx : Tx.fromBytes(new Uint8Array(tx.bytes))
}

/**
 * 48 bits at an offset that falls inside the first input's signature whatever
 * the input count: a number, so no string is made per transaction. Two
 * transactions sharing one only cost the later block a decode.
 */
function fingerprintOf (bytes: Uint8Array): number {
  if (bytes.length < 30) return bytes.length
  return (bytes[24] | bytes[25] << 8 | bytes[26] << 16) + (bytes[27] | bytes[28] << 8 | bytes[29] << 16) * 0x100_0000
}

function mempoolFull (feeRate: number): TxError {
  return new TxError('MEMPOOL_FULL', `mempool is full and fee rate ${feeRate.toFixed(2)}/byte is too low`)
}
