/**
 * The address index (--addrindex), as Bitcoin Core's optional indexes (src/index)
 * and electrs: for each address, the best-chain transactions that paid or spent
 * it, with totals, and each indexed transaction's height. A LevelDB of its own
 * (<datadir>/indexes/addr): derived data, rebuilt from the chain when lost. It
 * follows the best chain on its own, in the background: a start builds it (with
 * progress) from where it stopped; a reorganisation rewinds it block by block
 * with the journal each block wrote, then it catches up again.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { ADDRESS_HASH_BYTES, encodeAddress } from '../core/address.ts'
import { decodeCbor, encodeCbor, parseCid } from '../core/cbor.ts'
import { fromHex, toHex } from '../core/hash.ts'
import type { Block } from '../core/block.ts'
import type { ChainReader } from '../chain/ports.ts'
import type { Startable } from '../util/startable.ts'
import { cidFromDigest } from '../chain/records.ts'
import type { BlockEntry, Coin } from '../chain/types.ts'
import type { Logger } from '../log.ts'

export type AddrIndexChain = Pick<ChainReader, 'on' | 'off' | 'height' | 'tip' | 'params' | 'getEntryAt' | 'blockInfo' | 'getBlock' | 'getSpentCoins'>

export interface AddrIndexStatus {
  /** Best-chain height indexed so far (-1: nothing yet). */
  height: number
  tip: number
  /** height / tip, 0..1. */
  progress: number
  synced: boolean
  /** Why it stopped, if it did (a damaged database: delete <datadir>/indexes/addr to rebuild it). */
  error?: string
}

/** Amounts in base units: the explorer formats them. */
export interface AddressEntry { txid: string, height: number, received: bigint, sent: bigint }

export interface AddressHistory {
  address: string
  received: bigint
  sent: bigint
  balance: bigint
  txCount: number
  /** Newest first. */
  entries: AddressEntry[]
  /** Give as `before` for the next page; null on the last. */
  next: string | null
  status: AddrIndexStatus
}

const TIP_KEY = Uint8Array.of(0x6d) // 'm'
const HISTORY = 0x68 // 'h' ‖ address ‖ height ‖ txid digest → received ‖ sent
const TOTALS = 0x73 // 's' ‖ address → received ‖ sent ‖ count
const TXS = 0x74 // 't' ‖ txid digest → height
const JOURNAL = 0x6a // 'j' ‖ height ‖ block digest → the history keys and txids the block added
const HISTORY_KEY_BYTES = 1 + ADDRESS_HASH_BYTES + 4 + 32
/** Most entries an address page lists. */
export const MAX_PAGE = 50

function key (prefix: number, ...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(1 + parts.reduce((n, p) => n + p.length, 0))
  out[0] = prefix
  let at = 1
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function u32 (n: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n)
  return b
}

function amounts (...values: bigint[]): Uint8Array {
  const b = new Uint8Array(8 * values.length)
  const view = new DataView(b.buffer)
  values.forEach((v, n) => { view.setBigUint64(8 * n, v) })
  return b
}

function readAmounts (b: Uint8Array, count: number): bigint[] {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  return Array.from({ length: count }, (_, n) => view.getBigUint64(8 * n))
}

interface Totals { received: bigint, sent: bigint, count: number }

export class AddrIndex implements Startable {
  readonly #chain: AddrIndexChain
  readonly #log: Logger
  readonly #db: Level<Uint8Array, Uint8Array>
  /** Height and id of the last block indexed; undefined: none. */
  #tip: { height: number, id: string } | undefined
  #running = false
  #loop: Promise<void> | undefined
  #again = false
  #error: string | undefined
  #lastProgress = 0
  #buildStarted: { at: number, height: number } | undefined
  readonly #wake = (): void => { this.#schedule() }

  constructor (components: { chain: AddrIndexChain, logger: Logger }, init: { datadir: string }) {
    this.#chain = components.chain
    this.#log = components.logger
    this.#db = new Level<Uint8Array, Uint8Array>(join(init.datadir, 'indexes', 'addr'), { keyEncoding: 'view', valueEncoding: 'view' })
  }

  async start (): Promise<void> {
    if (this.#running) return
    await mkdir(join(this.#db.location, '..'), { recursive: true })
    await this.#db.open()
    const tip = await this.#db.get(TIP_KEY)
    this.#tip = tip === undefined ? undefined : { height: new DataView(tip.buffer, tip.byteOffset).getUint32(0), id: cidFromDigest(tip.subarray(4)).toString() }
    this.#running = true
    this.#chain.on('tip', this.#wake)
    this.#schedule()
  }

  async stop (): Promise<void> {
    if (!this.#running) return
    this.#running = false
    this.#chain.off('tip', this.#wake)
    await this.#loop
    await this.#db.close()
  }

  status (): AddrIndexStatus {
    const height = this.#tip?.height ?? -1
    const tip = this.#chain.height
    return { height, tip, progress: tip <= 0 ? (height >= 0 ? 1 : 0) : Math.max(0, Math.min(1, height / tip)), synced: this.#tip?.id === this.#chain.tip.idString, ...(this.#error === undefined ? {} : { error: this.#error }) }
  }

  /** Resolves once the index has caught up with the chain's tip (tests). */
  async caughtUp (): Promise<void> {
    while (this.#running && (this.#loop !== undefined || this.#tip?.id !== this.#chain.tip.idString)) {
      if (this.#error !== undefined) throw new Error(this.#error)
      await (this.#loop ?? new Promise(resolve => setTimeout(resolve, 10)))
    }
  }

  async txHeight (txid: string): Promise<number | undefined> {
    if (!this.#running) return undefined
    let digest: Uint8Array
    try {
      digest = parseCid(txid).multihash.digest
    } catch {
      return undefined
    }
    const value = await this.#db.get(key(TXS, digest))
    return value === undefined ? undefined : new DataView(value.buffer, value.byteOffset).getUint32(0)
  }

  async history (hash: Uint8Array, options: { before?: string, limit: number }): Promise<AddressHistory> {
    const prefix = key(HISTORY, hash)
    const lt = options.before === undefined ? key(HISTORY, hash, new Uint8Array(36).fill(0xff)) : key(HISTORY, hash, fromHex(options.before))
    const entries: AddressEntry[] = []
    let last: Uint8Array | undefined
    const limit = Math.min(options.limit, MAX_PAGE)
    for await (const [k, v] of this.#db.iterator({ gte: prefix, lt, reverse: true, limit: limit + 1 })) {
      if (entries.length === limit) break
      const height = new DataView(k.buffer, k.byteOffset).getUint32(1 + ADDRESS_HASH_BYTES)
      const [received, sent] = readAmounts(v, 2)
      entries.push({ txid: cidFromDigest(k.subarray(1 + ADDRESS_HASH_BYTES + 4)).toString(), height, received, sent })
      last = k
    }
    const more = entries.length === limit && last !== undefined && await this.#hasBefore(prefix, last)
    const totals = await this.#totals(hash)
    return {
      address: encodeAddress(this.#chain.params.addressPrefix, hash),
      received: totals.received,
      sent: totals.sent,
      balance: totals.received - totals.sent,
      txCount: totals.count,
      entries,
      next: more && last !== undefined ? toHex(last.subarray(1 + ADDRESS_HASH_BYTES)) : null,
      status: this.status()
    }
  }

  async #hasBefore (prefix: Uint8Array, k: Uint8Array): Promise<boolean> {
    for await (const _ of this.#db.keys({ gte: prefix, lt: k, reverse: true, limit: 1 })) return true
    return false
  }

  async #totals (hash: Uint8Array): Promise<Totals> {
    const v = await this.#db.get(key(TOTALS, hash))
    if (v === undefined) return { received: 0n, sent: 0n, count: 0 }
    const [received, sent] = readAmounts(v, 2)
    return { received, sent, count: new DataView(v.buffer, v.byteOffset).getUint32(16) }
  }

  #schedule (): void {
    if (!this.#running || this.#error !== undefined) return
    if (this.#loop !== undefined) {
      this.#again = true
      return
    }
    this.#loop = this.#follow().catch(err => {
      this.#error = `${(err as Error).message}; delete ${this.#db.location} to rebuild it`
      this.#log.error(`address index stopped: ${this.#error}`)
    }).finally(() => {
      this.#loop = undefined
      if (this.#again) {
        this.#again = false
        this.#schedule()
      }
    })
  }

  /** Moves the index to the chain's tip: back off a branch that left the best chain, then forward one block at a time. */
  async #follow (): Promise<void> {
    while (this.#running) {
      const tip = this.#tip
      if (tip !== undefined) {
        const info = this.#chain.blockInfo(tip.id)
        if (info === undefined) throw new Error(`the indexed block ${tip.id} is not in the chain's index`)
        if (info.validity !== 'active') {
          await this.#disconnect(info.entry)
          continue
        }
      }
      const next = this.#chain.getEntryAt((tip?.height ?? -1) + 1)
      if (next === undefined) break
      // A block whose parent is not our tip: the chain moved meanwhile; the next round backs off.
      if (tip !== undefined && next.prev !== tip.id) continue
      const block = await this.#chain.getBlock(next.id)
      if (block === undefined) throw new Error(`best-chain block ${next.idString} is not stored`)
      const spent = await this.#chain.getSpentCoins(next)
      // Left the best chain while we read it: its undo data may be gone.
      if (this.#chain.blockInfo(next.idString)?.validity !== 'active') continue
      await this.#connect(next, block, new Map(spent))
      this.#progress()
    }
    if (this.#buildStarted !== undefined && this.#tip?.id === this.#chain.tip.idString) {
      const blocks = (this.#tip?.height ?? 0) - this.#buildStarted.height
      if (blocks > 1) this.#log.info(`address index built to height ${this.#tip?.height ?? 0}: ${blocks} blocks in ${((Date.now() - this.#buildStarted.at) / 1000).toFixed(1)} s`)
      this.#buildStarted = undefined
    }
  }

  #progress (): void {
    this.#buildStarted ??= { at: Date.now(), height: this.#tip?.height ?? 0 }
    const now = Date.now()
    if (now - this.#lastProgress < 5_000 || this.status().synced) return
    this.#lastProgress = now
    const s = this.status()
    this.#log.info(`address index: height ${s.height} of ${s.tip} (${(100 * s.progress).toFixed(1)} %)`, { event: 'addrindex', height: s.height, tip: s.tip })
  }

  async #connect (entry: BlockEntry, block: Block, spent: Map<string, Coin>): Promise<void> {
    const height = u32(entry.height)
    const perTx = new Map<string, Map<string, { hash: Uint8Array, received: bigint, sent: bigint }>>()
    const touch = (txid: string, hash: Uint8Array): { hash: Uint8Array, received: bigint, sent: bigint } => {
      let byAddress = perTx.get(txid)
      if (byAddress === undefined) perTx.set(txid, byAddress = new Map())
      const hex = toHex(hash)
      let e = byAddress.get(hex)
      if (e === undefined) byAddress.set(hex, e = { hash, received: 0n, sent: 0n })
      return e
    }
    for (const tx of block.txs) {
      for (const out of tx.data.outputs) touch(tx.idString, out.address).received += out.amount
      const keys = tx.inputKeys()
      for (const k of keys) {
        const coin = spent.get(k)
        if (coin !== undefined) touch(tx.idString, coin.address).sent += coin.amount
      }
    }
    const batch = this.#db.batch()
    const historyKeys: Uint8Array[] = []
    const totals = new Map<string, Totals & { hash: Uint8Array }>()
    for (const [txid, byAddress] of perTx) {
      const digest = parseCid(txid).multihash.digest
      batch.put(key(TXS, digest), height)
      for (const e of byAddress.values()) {
        const k = key(HISTORY, e.hash, height, digest)
        historyKeys.push(k)
        batch.put(k, amounts(e.received, e.sent))
        const hex = toHex(e.hash)
        const t = totals.get(hex) ?? { ...await this.#totals(e.hash), hash: e.hash }
        t.received += e.received
        t.sent += e.sent
        t.count++
        totals.set(hex, t)
      }
    }
    for (const t of totals.values()) batch.put(key(TOTALS, t.hash), totalsBytes(t))
    const blockDigest = entry.id.multihash.digest
    batch.put(key(JOURNAL, height, blockDigest), encodeCbor({ h: historyKeys, t: [...perTx.keys()].map(id => parseCid(id).multihash.digest) }))
    batch.put(TIP_KEY, key(0, height, blockDigest).subarray(1))
    await batch.write()
    this.#tip = { height: entry.height, id: entry.idString }
  }

  /** Takes the indexed tip back out with its journal; the index's tip becomes its parent. */
  async #disconnect (entry: BlockEntry): Promise<void> {
    const journalKey = key(JOURNAL, u32(entry.height), entry.id.multihash.digest)
    const journal = await this.#db.get(journalKey)
    if (journal === undefined) throw new Error(`the journal of indexed block ${entry.idString} is missing`)
    const { h, t } = decodeCbor(journal, 'address index journal') as { h: Uint8Array[], t: Uint8Array[] }
    const batch = this.#db.batch()
    const totals = new Map<string, Totals & { hash: Uint8Array }>()
    for (const k of h) {
      if (k.length !== HISTORY_KEY_BYTES) throw new Error(`the journal of indexed block ${entry.idString} is damaged`)
      const value = await this.#db.get(k)
      const hash = k.subarray(1, 1 + ADDRESS_HASH_BYTES)
      const hex = toHex(hash)
      const tot = totals.get(hex) ?? { ...await this.#totals(hash), hash }
      if (value !== undefined) {
        const [received, sent] = readAmounts(value, 2)
        tot.received -= received
        tot.sent -= sent
        tot.count--
      }
      totals.set(hex, tot)
      batch.del(k)
    }
    for (const tot of totals.values()) {
      if (tot.count <= 0) batch.del(key(TOTALS, tot.hash))
      else batch.put(key(TOTALS, tot.hash), totalsBytes(tot))
    }
    for (const digest of t) batch.del(key(TXS, digest))
    batch.del(journalKey)
    const parent = entry.prev === null ? undefined : this.#chain.blockInfo(entry.prev)?.entry
    if (parent === undefined) batch.del(TIP_KEY)
    else batch.put(TIP_KEY, key(0, u32(parent.height), parent.id.multihash.digest).subarray(1))
    await batch.write()
    this.#tip = parent === undefined ? undefined : { height: parent.height, id: parent.idString }
    this.#log.debug(`address index: block ${entry.height} ${entry.idString} left the best chain, taken out`)
  }
}

function totalsBytes (t: Totals): Uint8Array {
  const b = new Uint8Array(20)
  b.set(amounts(t.received, t.sent), 0)
  new DataView(b.buffer).setUint32(16, t.count)
  return b
}
