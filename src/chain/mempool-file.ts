/**
 * The mempool across restarts (Bitcoin Core's mempool.dat): written at stop
 * and soon after it changes, atomically; at start every transaction goes
 * through the chain's normal acceptance again, in the background, keeping its
 * arrival time. What no longer qualifies is dropped; a damaged file is set
 * aside with a warning, never fatal. Core writes it at stop only; a disk that
 * fills at once (ENOSPC) leaves the stop no room, so here the file on disk is
 * never far behind the pool.
 */
import { createHash } from 'node:crypto'
import { readFile, rename, stat } from 'node:fs/promises'
import { decodeCbor, read } from '../core/cbor.ts'
import { CointsError, DecodeError, TxError } from '../core/errors.ts'
import { equalBytes, sha256 } from '../core/hash.ts'
import { genesisBlock } from '../core/params.ts'
import { Tx } from '../core/tx.ts'
import type { Logger } from '../log.ts'
import { writeFileAtomic } from '../util/atomic-file.ts'
import type { Startable } from '../util/startable.ts'
import { SerialQueue } from '../util/serial-queue.ts'
import { ChainError, type ChainEventSource, type ChainReader, type ChainWriter, type MempoolView } from './ports.ts'
import type { MempoolEntry } from './types.ts'

export const MEMPOOL_FILE = 'mempool.dat'
const VERSION = 1
const CHECKSUM_BYTES = 32
/** A change is written this long after it at the soonest (changes meanwhile go in the same write)… */
const SAVE_DELAY_MS = 1_000
/** …and no sooner than its file's size takes at this rate: a small pool is on disk within a second, a full one (64 MB) every few minutes. */
const SAVE_BYTES_PER_SECOND = 200_000
/** Each transaction's array, time and byte-string heads, and the file's own, at most. */
const ENTRY_OVERHEAD = 16
const FILE_OVERHEAD = 128

export interface SavedTx { time: number, bytes: Uint8Array }

/** CBOR's head (RFC 8949 §3.1) of major type `major` and argument `n` at `at`, in its shortest form (as DAG-CBOR requires); returns where it ends. */
function putHead (out: Uint8Array, view: DataView, at: number, major: number, n: number): number {
  const type = major << 5
  if (n < 24) {
    out[at] = type | n
    return at + 1
  }
  const size = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1_0000_0000 ? 4 : 8
  out[at] = type | (24 + Math.log2(size))
  if (size === 1) out[at + 1] = n
  else if (size === 2) view.setUint16(at + 1, n)
  else if (size === 4) view.setUint32(at + 1, n)
  else view.setBigUint64(at + 1, BigInt(n))
  return at + 1 + size
}

function headBytes (n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x1_0000_0000 ? 5 : 9
}

const TXS_KEY = new TextEncoder().encode('txs')
const GENESIS_KEY = new TextEncoder().encode('genesis')
const VERSION_KEY = new TextEncoder().encode('version')

/** Entries encoded, or bytes hashed, between two turns of the event loop. */
const ENTRIES_PER_TURN = 4_096
const HASHED_PER_TURN = 4 * 1024 * 1024

const turn = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

/**
 * The file: DAG-CBOR {version, genesis, txs: [[time, bytes]…]} in arrival
 * order (parents first), then the SHA-256 of it. Encoded here, a few thousand
 * transactions a turn of the event loop, rather than by @ipld/dag-cbor, which
 * encodes in one go: 0.4–1.7 s on the loop for a full pool (64 MB), at every
 * write. The bytes are dag-cbor's (its canonical key order: txs, genesis, version).
 */
export async function encodeMempoolFile (genesis: Uint8Array, entries: Iterable<MempoolEntry>): Promise<Uint8Array> {
  // The pool as it is now: it may change while this yields.
  const pool = [...entries]
  let size = 1 + headBytes(TXS_KEY.length) + TXS_KEY.length + headBytes(pool.length)
  for (const e of pool) size += 1 + headBytes(e.time) + headBytes(e.tx.bytes.length) + e.tx.bytes.length
  size += headBytes(GENESIS_KEY.length) + GENESIS_KEY.length + headBytes(genesis.length) + genesis.length
  size += headBytes(VERSION_KEY.length) + VERSION_KEY.length + headBytes(VERSION)
  const file = new Uint8Array(size + CHECKSUM_BYTES)
  const view = new DataView(file.buffer)
  let at = putHead(file, view, 0, 5, 3)
  const put = (bytes: Uint8Array, major: number): void => {
    at = putHead(file, view, at, major, bytes.length)
    file.set(bytes, at)
    at += bytes.length
  }
  put(TXS_KEY, 3)
  at = putHead(file, view, at, 4, pool.length)
  for (let n = 0; n < pool.length; n++) {
    if (n > 0 && n % ENTRIES_PER_TURN === 0) await turn()
    at = putHead(file, view, at, 4, 2)
    at = putHead(file, view, at, 0, pool[n].time)
    put(pool[n].tx.bytes, 2)
  }
  put(GENESIS_KEY, 3)
  put(genesis, 2)
  put(VERSION_KEY, 3)
  at = putHead(file, view, at, 0, VERSION)
  const hash = createHash('sha256')
  for (let from = 0; from < at; from += HASHED_PER_TURN) {
    if (from > 0) await turn()
    hash.update(file.subarray(from, Math.min(at, from + HASHED_PER_TURN)))
  }
  file.set(hash.digest(), at)
  return file
}

/** The saved transactions; throws (with what is wrong) for a damaged file or one of another network. */
export function decodeMempoolFile (genesis: Uint8Array, file: Uint8Array): SavedTx[] {
  if (file.length < CHECKSUM_BYTES) throw new Error(`${file.length} bytes: too short`)
  const body = file.subarray(0, file.length - CHECKSUM_BYTES)
  if (!equalBytes(sha256(body), file.subarray(body.length))) throw new Error('its checksum does not match')
  const o = read.object(decodeCbor(body, 'mempool file'), 'mempool file')
  if (o.version !== VERSION) throw new Error(`version ${String(o.version)}, this node reads ${VERSION}`)
  if (!equalBytes(read.bytes(o.genesis, 'genesis'), genesis)) throw new Error('it belongs to another network')
  return read.array(o.txs, 'txs', Number.MAX_SAFE_INTEGER).map((t, n) => {
    const [time, bytes] = read.array(t, `txs[${n}]`, 2)
    return { time: read.uint(time, `txs[${n}].time`), bytes: read.bytes(bytes, `txs[${n}].bytes`) }
  })
}

/** How long a change waits to be written after a write of `lastBytes`: a second, longer for a large file, `maxMs` (5 minutes) at most. */
export function saveDelayMs (lastBytes: number, maxMs = 5 * 60_000): number {
  return Math.min(maxMs, Math.max(SAVE_DELAY_MS, lastBytes / SAVE_BYTES_PER_SECOND * 1000))
}

export interface MempoolFileComponents {
  /** Followed for changes; loaded transactions go through its acceptance. */
  chain: ChainEventSource & Pick<ChainReader, 'params'> & Pick<ChainWriter, 'acceptTx'>
  mempool: Pick<MempoolView, 'entries' | 'size' | 'bytes' | 'maxBytes'>
  logger: Logger
}

export interface MempoolFileInit {
  path: string
  /** The longest a change waits to be written, whatever the file's size (default 5 minutes). */
  maxSaveDelayMs?: number
}

export class MempoolFile implements Startable {
  readonly #c: MempoolFileComponents
  readonly #init: MempoolFileInit
  readonly #genesis: Uint8Array
  readonly #writes = new SerialQueue()
  #loading: Promise<void> | undefined
  #loaded = false
  #following = false
  #stopping = false
  /** Mempool changes since the last write began. */
  #changes = 0
  /** The size of the last file written. */
  #lastBytes = 0
  #timer: NodeJS.Timeout | undefined

  constructor (components: MempoolFileComponents, init: MempoolFileInit) {
    this.#c = components
    this.#init = init
    this.#genesis = genesisBlock(components.chain.params).id.bytes
  }

  /** Whether the saved transactions have all been through acceptance (Bitcoin Core's getmempoolinfo `loaded`). */
  get loaded (): boolean { return this.#loaded }

  /** Follows the mempool's changes (the chain need not be started yet: the load waits for afterStart). */
  async start (): Promise<void> {
    if (this.#following) return
    this.#following = true
    this.#c.chain.on('tx:accepted', this.#onChange)
    this.#c.chain.on('tx:removed', this.#onChange)
  }

  /** Starts loading the saved mempool in the background, once the chain has started; returns at once. */
  afterStart (): void {
    if (this.#loading !== undefined || this.#stopping) return
    this.#loading = this.#load().catch(err => {
      this.#c.logger.error(`loading ${this.#init.path} failed: ${(err as Error).message}`)
    })
  }

  /** Ends the load (what is not loaded stays in the file) and, if the load had finished, writes the mempool. */
  async stop (): Promise<void> {
    if (this.#stopping) return
    this.#stopping = true
    clearTimeout(this.#timer)
    this.#following = false
    this.#c.chain.off('tx:accepted', this.#onChange)
    this.#c.chain.off('tx:removed', this.#onChange)
    await this.#loading
    // Written over before it was all loaded, the file would lose what was not.
    if (!this.#loaded) return
    try {
      const { txs, bytes } = await this.save()
      this.#c.logger.info(`${txs} transactions written to ${this.#init.path} (${bytes} bytes)`)
    } catch (err) {
      this.#c.logger.error(`writing ${this.#init.path} failed, it keeps the mempool of its last write: ${(err as Error).message}`)
    }
  }

  /** What the next write takes on disk, at most: room a halt for want of space keeps for the stop's write. */
  get nextWriteBytes (): number {
    const { mempool } = this.#c
    return mempool.bytes + ENTRY_OVERHEAD * mempool.size + FILE_OVERHEAD
  }

  /** Writes the mempool now; returns how many transactions and bytes. */
  async save (): Promise<{ txs: number, bytes: number }> {
    if (!this.#loaded) throw new CointsError('MEMPOOL_LOADING', `${this.#init.path} is still being loaded: saving now would lose what is not loaded yet`)
    return await this.#writes.run(async () => {
      this.#changes = 0
      const entries = [...this.#c.mempool.entries()]
      const bytes = await encodeMempoolFile(this.#genesis, entries)
      await writeFileAtomic(this.#init.path, bytes, 0o600)
      this.#lastBytes = bytes.length
      return { txs: entries.length, bytes: bytes.length }
    })
  }

  readonly #onChange = (): void => {
    this.#changes++
    this.#saveSoon()
  }

  /** Schedules a write of the changes, SAVE_DELAY_MS after the first or later for a large file (SAVE_BYTES_PER_SECOND). */
  #saveSoon (): void {
    if (!this.#loaded || this.#stopping || this.#timer !== undefined || this.#changes === 0) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.save().catch(err => { this.#c.logger.error(`writing ${this.#init.path} failed: ${(err as Error).message}`) })
    }, saveDelayMs(this.#lastBytes, this.#init.maxSaveDelayMs))
    this.#timer.unref()
  }

  async #load (): Promise<void> {
    const { chain, logger } = this.#c
    const path = this.#init.path
    const saved = await this.#read()
    let kept = 0
    let dropped = 0
    for (const { time, bytes } of saved ?? []) {
      if (this.#stopping) return
      try {
        await chain.acceptTx(Tx.fromBytes(bytes), time, 'mempool.dat')
        kept++
      } catch (err) {
        // Stopping: the rest stays in the file for the next start.
        if (err instanceof ChainError) return
        if (err instanceof TxError && err.code === 'ALREADY_KNOWN') {
          kept++
          continue
        }
        dropped++
        const expected = err instanceof TxError || err instanceof DecodeError
        logger[expected ? 'debug' : 'warn'](`a transaction of ${path} was dropped: ${(err as Error).message}`)
      }
    }
    if (saved !== undefined) logger.info(`${kept} transactions loaded from ${path}, ${dropped} dropped`)
    this.#lastBytes = saved === undefined ? 0 : this.nextWriteBytes
    this.#loaded = true
    // What arrived during the load (and what it dropped) goes to the file now.
    this.#saveSoon()
  }

  /** The saved transactions; undefined when there is no file, or it was damaged (then set aside). */
  async #read (): Promise<SavedTx[] | undefined> {
    const path = this.#init.path
    let bytes: Uint8Array
    try {
      const { size } = await stat(path)
      // Larger than a full mempool could make: not read into memory.
      const limit = this.#c.mempool.maxBytes * 2 + 1_000_000
      if (size > limit) throw new Error(`${size} bytes, more than a full mempool writes (${limit})`)
      bytes = await readFile(path)
      return decodeMempoolFile(this.#genesis, bytes)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      const aside = `${path}.damaged-${Date.now()}`
      await rename(path, aside).catch(() => {})
      this.#c.logger.warn(`${path} cannot be used (${(err as Error).message}): set aside as ${aside}; the mempool starts empty`)
      return undefined
    }
  }
}
