/**
 * The wallet's history on disk: its transactions, the block it has scanned up
 * to and the addresses it has derived (a start derives none again: thousands
 * of derivations take seconds), in a LevelDB of its own
 * (`<datadir>/wallet-history`). Everything here can be derived again from the
 * chain and the wallet's xpub, so a damaged or foreign history is discarded
 * and rebuilt by a rescan, never fatal.
 */
import { rename } from 'node:fs/promises'
import { Level } from 'level'
import { ADDRESS_HASH_BYTES } from '../core/address.ts'
import { findDbDamage, hasDbFiles } from '../chain/leveldb-files.ts'
import { decodeCbor, encodeCbor, read } from '../core/cbor.ts'
import { Tx } from '../core/tx.ts'
import type { Logger } from '../log.ts'
import { isNoSpace, writeFailure } from '../util/disk-usage.ts'
import { WalletError } from './errors.ts'

export const HISTORY_DIR = 'wallet-history'

export interface WalletTx {
  tx: Tx
  /** null while unconfirmed (in the mempool). */
  height: number | null
  time: number
}

/** A best-chain block, by height and id. */
export interface ChainPoint { height: number, id: string }

export interface HistoryState {
  /** The account the history belongs to: a history of another wallet is discarded. */
  xpub: string
  /**
   * The block scanned up to, then ancestors of it at heights further and
   * further back (a block locator): after a reorganisation the highest of them
   * still on the best chain is at or below the fork.
   */
  scanned: ChainPoint[]
}

/** A derived address: its branch, index and hash160. */
export interface StoredAddress { branch: number, index: number, hash: Uint8Array }

/** Changes written as one atomic batch: the transactions and the scan point stay consistent whatever a crash cuts. */
export interface HistoryWrite {
  put: WalletTx[]
  del: string[]
  addresses: StoredAddress[]
  /** Absent: the scan point stays as stored (it may lag the transactions, never lead them). */
  state?: HistoryState
}

const STATE_KEY = 'state'
const STATE_VERSION = 1

function openDatabase (path: string) {
  const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
  return {
    db,
    txs: db.sublevel<string, Uint8Array>('t', { keyEncoding: 'utf8', valueEncoding: 'view' }),
    addresses: db.sublevel<Uint8Array, Uint8Array>('a', { keyEncoding: 'view', valueEncoding: 'view' }),
    meta: db.sublevel<string, Uint8Array>('m', { keyEncoding: 'utf8', valueEncoding: 'view' })
  }
}

export class HistoryStore {
  readonly path: string
  readonly #log: Logger
  #open: ReturnType<typeof openDatabase> | undefined
  /** Why a write failed: nothing more is written (see #write). */
  #failed: WalletError | undefined

  constructor (path: string, logger: Logger) {
    this.path = path
    this.#log = logger
  }

  get isOpen (): boolean { return this.#open !== undefined }

  get #parts (): ReturnType<typeof openDatabase> {
    if (this.#open === undefined) throw new Error(`the wallet history at ${this.path} is not open`)
    return this.#open
  }

  /**
   * Opens the database; a damaged one is moved aside and a new one made (a
   * rescan rebuilds it). LevelDB reads without its checksums (see
   * chain/leveldb-files.ts): its files are checked first, as the chain's, or a
   * flipped byte would be read as data (an address's hash: payments to it missed).
   */
  async open (): Promise<void> {
    if (this.#open !== undefined) return
    const damage = await hasDbFiles(this.path) ? await findDbDamage(this.path) : []
    if (damage.length > 0) await this.#setAside(`${damage[0].file} ${damage[0].problem}`)
    let parts = openDatabase(this.path)
    try {
      await parts.db.open()
    } catch (err) {
      const cause = (err as { cause?: Error & { code?: string } }).cause
      const message = cause?.message ?? (err as Error).message
      if (isNoSpace(cause ?? err)) throw new WalletError('DISK_FULL', `cannot open the wallet history at ${this.path}: the disk is full (${message}); free some space and start again`)
      // Locked or unreadable is not damage: moving it aside would not help.
      if (cause?.code !== 'LEVEL_CORRUPTION') throw new WalletError('HISTORY_OPEN_FAILED', `cannot open the wallet history at ${this.path}: ${message}`)
      await this.#setAside(message)
      parts = openDatabase(this.path)
      await parts.db.open()
    }
    this.#open = parts
  }

  async #setAside (why: string): Promise<void> {
    const aside = `${this.path}.damaged-${Date.now()}`
    this.#log.warn(`the wallet history at ${this.path} is damaged (${why}); moved it to ${aside}, the wallet rescans the chain`)
    await rename(this.path, aside)
  }

  async close (): Promise<void> {
    const parts = this.#open
    this.#open = undefined
    await parts?.db.close()
  }

  /**
   * The stored history; undefined when there is none or it cannot be used
   * (damaged records, another version): the caller rescans.
   */
  async load (): Promise<{ state: HistoryState, txs: WalletTx[], addresses: StoredAddress[] } | undefined> {
    const { meta, txs, addresses } = this.#parts
    try {
      const raw = await meta.get(STATE_KEY)
      if (raw === undefined) return undefined
      const state = decodeState(raw)
      const loaded: WalletTx[] = []
      for await (const [key, value] of txs.iterator()) {
        const wtx = decodeTx(value)
        if (wtx.tx.idString !== key) throw new Error(`record ${key} holds transaction ${wtx.tx.idString}`)
        loaded.push(wtx)
      }
      // In key order: by branch, then index.
      const derived: StoredAddress[] = []
      for await (const [key, hash] of addresses.iterator()) {
        if (key.length !== 5 || hash.length !== ADDRESS_HASH_BYTES) throw new Error('an address record of the wrong size')
        derived.push({ branch: key[0], index: new DataView(key.buffer, key.byteOffset).getUint32(1), hash })
      }
      return { state, txs: loaded, addresses: derived }
    } catch (err) {
      this.#log.warn(`the wallet history at ${this.path} is damaged (${(err as Error).message}); the wallet rescans the chain`)
      return undefined
    }
  }

  /** `sync`: on the disk before it resolves (fsync), so a power cut keeps it too (a payment about to be sent). */
  async write (w: HistoryWrite, opts: { sync?: boolean } = {}): Promise<void> {
    const { db, txs, meta, addresses } = this.#parts
    const batch = db.batch()
    for (const a of w.addresses) batch.put(addressKey(a), a.hash, { sublevel: addresses })
    for (const wtx of w.put) batch.put(wtx.tx.idString, encodeTx(wtx), { sublevel: txs })
    for (const id of w.del) batch.del(id, { sublevel: txs })
    if (w.state !== undefined) batch.put(STATE_KEY, encodeState(w.state), { sublevel: meta })
    await this.#write(async () => { await batch.write({ sync: opts.sync ?? false }) })
  }

  /** Forgets everything: a new or restored wallet starts its history again. */
  async clear (): Promise<void> {
    await this.#write(async () => { await this.#parts.db.clear() })
  }

  /**
   * A failed write leaves the history of the batches before it, but LevelDB
   * 1.20 would append the next batch after a record the failure may have torn
   * in its log (as for the chain's store): after one, nothing more is written.
   */
  async #write (op: () => Promise<void>): Promise<void> {
    if (this.#failed !== undefined) throw this.#failed
    try {
      await op()
    } catch (err) {
      const { code, message } = writeFailure(`writing the wallet history in ${this.path}`, err, 'the wallet scans again what it had not written')
      this.#failed = new WalletError(code, message)
      throw this.#failed
    }
  }
}

function addressKey (a: StoredAddress): Uint8Array {
  const key = new Uint8Array(5)
  key[0] = a.branch
  new DataView(key.buffer).setUint32(1, a.index)
  return key
}

function encodeTx (w: WalletTx): Uint8Array {
  return encodeCbor([w.height, w.time, w.tx.bytes])
}

function decodeTx (bytes: Uint8Array): WalletTx {
  const [height, time, tx] = read.array(decodeCbor(bytes, 'wallet transaction'), 'wallet transaction', 3)
  return {
    height: height === null ? null : read.uint(height, 'height'),
    time: read.uint(time, 'time'),
    tx: Tx.fromBytes(read.bytes(tx, 'transaction'))
  }
}

function encodeState (s: HistoryState): Uint8Array {
  return encodeCbor({ version: STATE_VERSION, xpub: s.xpub, scanned: s.scanned.map(p => [p.height, p.id]) })
}

function decodeState (bytes: Uint8Array): HistoryState {
  const o = read.object(decodeCbor(bytes, 'wallet history state'), 'state')
  if (o.version !== STATE_VERSION) throw new Error(`history version ${String(o.version)}, this node reads ${STATE_VERSION}`)
  if (typeof o.xpub !== 'string') throw new Error('state.xpub must be a string')
  const scanned = read.array(o.scanned, 'state.scanned', 256).map((p, n) => {
    const [height, id] = read.array(p, `state.scanned[${n}]`, 2)
    if (typeof id !== 'string') throw new Error(`state.scanned[${n}] has no id`)
    return { height: read.uint(height, 'height'), id }
  })
  if (scanned.length === 0) throw new Error('state.scanned is empty')
  return { xpub: o.xpub, scanned }
}
