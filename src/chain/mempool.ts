import type { Block } from '../core/block.ts'
import { TxError } from '../core/errors.ts'
import type { NetworkParams } from '../core/params.ts'
import { checkTxInputs, checkTxSanity, sigChecksOf, type Coin } from '../core/rules.ts'
import { outpointKey } from '../core/outpoint.ts'
import type { Tx } from '../core/tx.ts'
import type { SignatureVerifier } from './sig-verifier.ts'
import type { MempoolEntry } from './types.ts'

export interface MempoolComponents {
  params: NetworkParams
  chainTag: Uint8Array
  verifier: SignatureVerifier
  /** Confirmed coins by outpoint key (absent when unknown or spent). */
  getChainCoins: (keys: string[]) => Promise<Map<string, Coin>>
  tipHeight: () => number
  now: () => number
  /** Told of transactions evicted to make room (they leave without a block or a conflict). */
  evicted?: (txs: Tx[]) => void
}

export interface MempoolInit {
  maxBytes?: number
  /** Least fee per byte, in base units, to enter (and be relayed). */
  minFeeRate?: number
}

interface PoolEntry extends MempoolEntry {
  /** Outpoint keys this transaction spends. */
  spends: string[]
  /** Ids of mempool transactions whose outputs it spends. */
  parents: Set<string>
  /** Ids of mempool transactions spending its outputs: found without an outpoint key per output. */
  children: Set<string>
}

/**
 * Unconfirmed transactions, validated against the UTXO set plus the mempool
 * itself (so unconfirmed change can be spent), bounded in bytes with the lowest
 * fee rates evicted first. Callers serialise access with the chain's state.
 */
export class Mempool {
  readonly #c: MempoolComponents
  readonly #maxBytes: number
  readonly minFeeRate: number
  readonly #entries = new Map<string, PoolEntry>()
  /** Outpoint key -> id of the mempool transaction spending it. */
  readonly #spentBy = new Map<string, string>()
  /** Transactions by a slice of their bytes, to find a block's without hashing them (see findByBytes). */
  readonly #byFingerprint = new Map<number, PoolEntry>()
  #bytes = 0
  /**
   * A lower bound of the lowest package fee rate (see #makeRoom), known from the
   * last full look: while the pool is full, a newcomer paying no more is refused
   * before its signatures are verified and without another look. 0 when unknown.
   */
  #floor = 0

  constructor (components: MempoolComponents, init: MempoolInit = {}) {
    this.#c = components
    this.#maxBytes = init.maxBytes ?? 64_000_000
    this.minFeeRate = init.minFeeRate ?? 1
  }

  get size (): number { return this.#entries.size }
  get bytes (): number { return this.#bytes }
  get maxBytes (): number { return this.#maxBytes }

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
  #mempoolCoin (key: string): Coin | undefined {
    const sep = key.lastIndexOf(':')
    const parent = this.#entries.get(key.slice(0, sep))
    const out = parent?.tx.data.outputs[Number(key.slice(sep + 1))]
    return out === undefined ? undefined : { amount: out.amount, address: out.address, height: this.#c.tipHeight() + 1, coinbase: false }
  }

  /** Validates and adds a transaction (arrived at `time`, default now); throws TxError with a code when it does not qualify. */
  async accept (tx: Tx, time = this.#c.now()): Promise<MempoolEntry> {
    if (this.#entries.has(tx.idString)) throw new TxError('ALREADY_KNOWN', `${tx.idString} is already in the mempool`)
    checkTxSanity(tx)
    if (tx.isCoinbase) throw new TxError('COINBASE_IN_MEMPOOL', 'a coinbase is only valid in a block')
    const spends = tx.inputKeys()
    for (const key of spends) {
      const other = this.#spentBy.get(key)
      if (other !== undefined) throw new TxError('CONFLICT', `${key} is already spent by ${other}`)
    }
    const fromChain = spends.filter(key => this.#mempoolCoin(key) === undefined)
    const firstOwnOutput = outpointKey(tx.idString, 0)
    const chainCoins = await this.#c.getChainCoins([...fromChain, firstOwnOutput])
    if (chainCoins.has(firstOwnOutput)) throw new TxError('ALREADY_KNOWN', `${tx.idString} is already confirmed`)
    const { fee } = checkTxInputs(tx, key => this.#mempoolCoin(key) ?? chainCoins.get(key), this.#c.tipHeight() + 1, this.#c.params)
    const size = tx.bytes.length
    const feeRate = Number(fee) / size
    if (feeRate < this.minFeeRate) throw new TxError('FEE_TOO_LOW', `fee rate ${feeRate.toFixed(2)}/byte is below the minimum ${this.minFeeRate}/byte`)
    if (this.#bytes + size > this.#maxBytes && feeRate <= this.#floor) throw mempoolFull(feeRate)
    if (!await this.#c.verifier.verifyAll(sigChecksOf(tx, this.#c.chainTag))) throw new TxError('BAD_SIGNATURE', `${tx.idString} has an invalid signature`)
    // Another accept may have raced ahead during the verification above.
    if (this.#entries.has(tx.idString)) throw new TxError('ALREADY_KNOWN', `${tx.idString} is already in the mempool`)
    for (const key of spends) if (this.#spentBy.has(key)) throw new TxError('CONFLICT', `${key} was spent meanwhile`)
    const parents = new Set(spends.map(key => key.slice(0, key.lastIndexOf(':'))).filter(id => this.#entries.has(id)))
    this.#makeRoom(size, feeRate, this.#ancestors(parents))
    const entry: PoolEntry = { tx, fee, size, feeRate, time, spends, parents, children: new Set() }
    this.#entries.set(tx.idString, entry)
    for (const parent of parents) this.#entries.get(parent)?.children.add(tx.idString)
    this.#byFingerprint.set(fingerprintOf(tx.bytes), entry)
    for (const key of spends) this.#spentBy.set(key, tx.idString)
    this.#bytes += size
    // Its ancestors' packages now include it: each package's rate stays at or above the lower of the two.
    this.#floor = Math.min(this.#floor, feeRate)
    return entry
  }

  /**
   * Evicts packages (a transaction with its descendants, which go with it) by
   * the fee rate of the whole package, lowest first, until `size` more bytes
   * fit, never an ancestor of the newcomer (`keep`): a cheap parent is judged
   * with the children that pay for it. All or nothing: when room would take a
   * package paying at or above the newcomer's rate, nothing is evicted.
   */
  #makeRoom (size: number, feeRate: number, keep: Set<string>): void {
    if (this.#bytes + size <= this.#maxBytes) return
    const ranked: Array<{ id: string, rate: number, members: PoolEntry[] }> = []
    for (const [id, e] of this.#entries) {
      const members = e.children.size === 0 ? [e] : this.#withDescendants(id)
      let fee = 0n
      let bytes = 0
      for (const m of members) {
        fee += m.fee
        bytes += m.size
      }
      ranked.push({ id, rate: Number(fee) / bytes, members })
    }
    ranked.sort((a, b) => a.rate - b.rate)
    // Every package counted, the newcomer's ancestors too: the lowest is exact.
    this.#floor = ranked[0]?.rate ?? 0
    const evict = new Set<string>()
    let bytes = this.#bytes
    for (const candidate of ranked) {
      if (bytes + size <= this.#maxBytes) break
      if (keep.has(candidate.id) || evict.has(candidate.id)) continue
      if (candidate.rate >= feeRate) throw mempoolFull(feeRate)
      for (const m of candidate.members) {
        if (!evict.has(m.tx.idString)) bytes -= m.size
        evict.add(m.tx.idString)
      }
    }
    if (bytes + size > this.#maxBytes) throw mempoolFull(feeRate)
    const evicted = [...evict].flatMap(id => this.removeWithDescendants(id))
    if (evicted.length > 0) this.#c.evicted?.(evicted)
  }

  /** The mempool transactions these ones spend from, transitively. */
  #ancestors (parents: Set<string>): Set<string> {
    const found = new Set<string>()
    const stack = [...parents]
    while (stack.length > 0) {
      const id = stack.pop() as string
      if (found.has(id)) continue
      found.add(id)
      for (const p of this.#entries.get(id)?.parents ?? []) stack.push(p)
    }
    return found
  }

  /** A transaction and everything spending its outputs, transitively. */
  #withDescendants (id: string): PoolEntry[] {
    const found = new Map<string, PoolEntry>()
    const stack = [id]
    while (stack.length > 0) {
      const entry = this.#entries.get(stack.pop() as string)
      if (entry === undefined || found.has(entry.tx.idString)) continue
      found.set(entry.tx.idString, entry)
      for (const child of entry.children) stack.push(child)
    }
    return [...found.values()]
  }

  /** Removes a transaction and everything spending its outputs; returns what left. */
  removeWithDescendants (id: string): Tx[] {
    const removed = this.#withDescendants(id)
    for (const entry of removed) this.#drop(entry)
    return removed.map(e => e.tx)
  }

  /** Removes one entry; its children (if they stay) no longer count it as a parent. */
  #drop (entry: PoolEntry): void {
    const id = entry.tx.idString
    this.#entries.delete(id)
    // forEach and an indexed loop: #drop runs for every mined transaction, and for-of makes an iterator object per element.
    if (entry.parents.size > 0) entry.parents.forEach(parent => this.#entries.get(parent)?.children.delete(id))
    if (entry.children.size > 0) entry.children.forEach(child => this.#entries.get(child)?.parents.delete(id))
    const fingerprint = fingerprintOf(entry.tx.bytes)
    if (this.#byFingerprint.get(fingerprint) === entry) this.#byFingerprint.delete(fingerprint)
    const { spends } = entry
    for (let n = 0; n < spends.length; n++) this.#spentBy.delete(spends[n])
    this.#bytes -= entry.size
    // Its ancestors' packages lost it and may pay less now.
    this.#floor = 0
  }

  /** After a block connects: its transactions leave, and so does anything spending what it spent. */
  removeForBlock (block: Block): Tx[] {
    const removed: Tx[] = []
    const { txs } = block
    for (let t = 0; t < txs.length; t++) {
      const tx = txs[t]
      const mined = this.#entries.get(tx.idString)
      if (mined !== undefined) {
        // Children stay: their parent is now confirmed.
        this.#drop(mined)
        removed.push(tx)
        // What it spent, only it spent in the pool: no conflict to look for.
        continue
      }
      if (tx.isCoinbase) continue
      for (const key of tx.inputKeys()) {
        const conflict = this.#spentBy.get(key)
        if (conflict !== undefined) removed.push(...this.removeWithDescendants(conflict))
      }
    }
    return removed
  }

  /** Empties the pool, returning its transactions in arrival order (to re-validate after a reorganisation). */
  clear (): Tx[] {
    const txs = [...this.#entries.values()].map(e => e.tx)
    this.#entries.clear()
    this.#byFingerprint.clear()
    this.#spentBy.clear()
    this.#bytes = 0
    return txs
  }

  /** Transactions for a block template: highest fee rate first, parents before children, within maxBytes. */
  selectForBlock (maxBytes: number): MempoolEntry[] {
    const byRate = [...this.#entries.values()].sort((a, b) => b.feeRate - a.feeRate)
    const chosen = new Set<string>()
    const selected: MempoolEntry[] = []
    let bytes = 0
    let progress = true
    while (progress) {
      progress = false
      for (const e of byRate) {
        if (chosen.has(e.tx.idString) || bytes + e.size > maxBytes) continue
        if ([...e.parents].some(p => !chosen.has(p))) continue
        chosen.add(e.tx.idString)
        selected.push(e)
        bytes += e.size
        progress = true
      }
    }
    return selected
  }
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
