import { EventEmitter } from 'node:events'
import { dirname } from 'node:path'
import { Block, encodeBlockParts, Header } from '../core/block.ts'
import type { CID } from '../core/cbor.ts'
import { BlockError, TxError } from '../core/errors.ts'
import { equalBytes } from '../core/hash.ts'
import { chainTag, genesisBlock, type NetworkParams } from '../core/params.ts'
import { expectedBits, workOf } from '../core/pow.ts'
import { checkBlockContext, checkBlockSanity, coinsOf, connectBlockTxs, sigChecksOf, type Coin, type ConnectResult, type SigCheck } from '../core/rules.ts'
import type { Tx } from '../core/tx.ts'
import { BlockIndex, type IndexEntry } from './block-index.ts'
import { checkRecentBlocks, DEFAULT_CHECK_BLOCKS } from './block-check.ts'
import { moveRootBlocks, readLayout, STORE_LAYOUT } from './blockstore-layout.ts'
import { dropBlocks, dropInvalidBodies } from './invalid-blocks.ts'
import type { Logger } from '../log.ts'
import { ChainStats, type ChainStatsView } from './chain-stats.ts'
import type { Accepted, Mempool } from './mempool.ts'
import { OrphanPool } from './orphan-pool.ts'
import { BlockStatus, cidFromDigest, indexRecordOf, StoreError } from './records.ts'
import { rebuildFromBlocks } from './reindex.ts'
import type { SignatureVerifier } from './sig-verifier.ts'
import { REMEDY, withRemedy, type ChainStore } from './store.ts'
import { CoinsCache, type CoinsCacheInit } from './coins-cache.ts'
import { verifyUtxoSet, type UtxoCheck } from './verify-chain.ts'
import { ChainError, type ChainReader, type ChainWriter, type TemplateSource } from './ports.ts'
import type { BlockEntry, BlockInfo, BlockProcessed, BlockSelection, BlockValidity, ChainEvents, MempoolEntry, ProcessOptions, ProcessResult, TipChange, UtxoSummary, ValidationStage } from './types.ts'
import { BoundedSet } from '../util/bounded-set.ts'
import { makeDirectory } from '../util/make-directory.ts'
import { unixSeconds } from '../util/clock.ts'
import { SerialQueue } from '../util/serial-queue.ts'
import type { Startable } from '../util/startable.ts'

export interface ChainInit {
  params: NetworkParams
  maxOrphans?: number
  /** Wire bytes of orphan blocks held at most. */
  maxOrphanBytes?: number
  /** When changed coins are written to LevelDB (default: 50,000 changes or a minute after the first). */
  coinsCache?: CoinsCacheInit
  /** Clock in seconds, replaceable in tests. */
  now?: () => number
  /** Rebuild the block index, UTXO set and undo data from the stored blocks at start (Bitcoin Core's -reindex). */
  reindex?: boolean
  /** Best-chain blocks checked against the UTXO set and undo data at start (default 6; 0: all), as Bitcoin Core's -checkblocks. */
  checkBlocks?: number
}

/**
 * What the chain is built of (src/node builds them): it opens and closes the
 * store, stops the verifier, and is the only one to change the mempool, whose
 * verifier must be this one.
 */
export interface ChainComponents {
  /** Its database; a write that fails halts the chain. */
  store: ChainStore
  mempool: Mempool
  verifier: SignatureVerifier
  logger?: Logger
}

const silent: Logger = { debug () {}, info () {}, warn () {}, error () {} }

/**
 * The chain service: validates blocks in stages (sanity, context, connect),
 * keeps the block tree with cumulative work, follows the branch with most work
 * (reorganising with undo data), owns the UTXO set and the mempool, and persists
 * all of it in LevelDB: blocks as they arrive, the UTXO set in atomic flushes of
 * the coins held in memory (CoinsCache). Consumers see it through its ports
 * (ports.ts).
 */
export class Chain extends EventEmitter<ChainEvents> implements ChainReader, ChainWriter, TemplateSource, Startable {
  readonly params: NetworkParams
  readonly chainTag: Uint8Array
  readonly #store: ChainStore
  readonly #mempool: Mempool
  readonly #verifier: SignatureVerifier
  readonly #stats = new ChainStats()
  readonly #coins: CoinsCache
  readonly #index: BlockIndex
  readonly #orphans: OrphanPool
  readonly #log: Logger
  readonly #now: () => number
  /** Ids of blocks that failed validation before they were stored (context errors: no index entry to mark); a peer pays a penalty for each, yet they are bounded. */
  readonly #rejected = new BoundedSet<string>(10_000)
  /** Connect checks started early, for blocks that extend the tip, while they are stored. */
  readonly #connectChecks = new WeakMap<Block, Promise<ConnectResult>>()
  /** Every state change runs through this queue, one at a time. */
  readonly #queue = new SerialQueue()
  readonly #reindex: boolean
  readonly #checkBlocks: number
  #starting: Promise<void> | undefined
  #started = false
  /** Why the chain stopped accepting anything (a write failed: a full disk); the node shuts down on 'halt'. */
  #halted: StoreError | undefined

  constructor (components: ChainComponents, init: ChainInit) {
    super()
    this.params = init.params
    this.chainTag = chainTag(init.params)
    this.#log = components.logger ?? silent
    this.#now = init.now ?? unixSeconds
    this.#reindex = init.reindex ?? false
    this.#checkBlocks = init.checkBlocks ?? DEFAULT_CHECK_BLOCKS
    this.#store = components.store
    this.#store.on('write:failed', err => { this.#halt(err) })
    this.#mempool = components.mempool
    this.#verifier = components.verifier
    this.#coins = new CoinsCache(this.#store, init.coinsCache)
    this.#index = new BlockIndex(init.params)
    this.#orphans = new OrphanPool({ maxBlocks: init.maxOrphans, maxBytes: init.maxOrphanBytes })
  }

  /** Opens the store and loads the chain (a second call waits on the first). */
  async start (): Promise<void> {
    this.#starting ??= this.#start()
    try {
      await this.#starting
    } catch (err) {
      // Nothing is left running: a later start tries again.
      this.#starting = undefined
      throw err
    }
  }

  async #start (): Promise<void> {
    await makeDirectory(dirname(this.#store.path))
    const damage = await this.#store.open({ salvage: this.#reindex })
    for (const d of damage) this.#log.warn(`reindex: ${d.file} ${d.problem}; what it held is rebuilt or synced again`)
    try {
      const layout = await readLayout(this.#store)
      // A datadir made before the blockstore had a keyspace of its own (or whose move was cut short).
      const moved = await moveRootBlocks(this.#store, this.#log)
      // A reindex interrupted by a crash begins again.
      const reindex = this.#reindex || await this.#store.getMeta('reindex') !== undefined
      if (reindex) await this.#store.beginReindex()
      await this.#load()
      if (layout === undefined || moved > 0) await this.#finishLayout()
      await this.#store.markCreated()
      if (reindex) await this.#rebuild()
      else await this.#checkRecent()
      // A crash between storing a block and connecting it, or mid-reorganisation, resumes here
      // (directly: until started, nothing else may queue).
      const best = this.#index.bestCandidate()
      if (best !== this.#index.tip) await this.#activateBestChain(best, new Map())
    } catch (err) {
      // A failed start leaves nothing running: worker threads would keep the process alive.
      await this.#verifier.stop()
      await this.#store.close()
      throw withRemedy(err)
    }
    this.#started = true
    this.#log.info(`chain ${this.params.name} at height ${this.#index.tip.height} (${this.#index.tip.idString}), ${this.#index.size} blocks indexed`)
  }

  /**
   * The rest of the move to a blockstore of its own, once the index is loaded:
   * blocks found invalid leave the blockstore (their headers kept beside the
   * index for getblock), with their transactions no valid block holds.
   */
  async #finishLayout (): Promise<void> {
    const invalid = this.#invalidEntries()
    await this.#store.markInvalid(invalid.map(e => this.#index.toRecord(e)))
    const dropped = await dropInvalidBodies(this.#store, this.#index, invalid)
    if (invalid.length > 0) this.#log.info(`blockstore: ${invalid.length} blocks marked invalid left it, with ${dropped} transaction lists and transactions no valid block holds`)
    await this.#store.putMeta('layout', new Uint8Array([STORE_LAYOUT]))
  }

  #invalidEntries (): IndexEntry[] {
    return [...this.#index.entries()].filter(e => e.status === BlockStatus.INVALID)
  }

  /** -reindex: every stored block through processBlock's own path, in height order. */
  async #rebuild (): Promise<void> {
    const started = Date.now()
    const { connected, dropped, unindexed, damaged } = await rebuildFromBlocks({
      store: this.#store,
      log: this.#log,
      process: async block => await this.#processBlock(block, true, 'reindex'),
      indexed: id => this.#index.get(id) !== undefined
    })
    // The blockstore keeps what the new index holds valid. Blocks found invalid kept their bodies (stored
    // before, they may share them); blocks not indexed again go whole (peers serve them again if wanted).
    await dropInvalidBodies(this.#store, this.#index, this.#invalidEntries())
    await dropBlocks(this.#store, this.#index, unindexed.map(h => h.bytes))
    await this.#store.deleteBlocks(damaged)
    await this.#coins.flush()
    await this.#store.endReindex()
    this.#log.info(`reindex: done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${connected} blocks indexed, tip ${this.#index.tip.height}${dropped > 0 ? `; ${dropped} dropped, to be synced again from peers` : ''}`)
  }

  /** -checkblocks: the last blocks of the chain on disk against its UTXO set and undo data. */
  async #checkRecent (): Promise<void> {
    const started = performance.now()
    const checked = await checkRecentBlocks(this.#store, this.#index, this.params, this.#checkBlocks)
    this.#log.debug(`start check: ${checked} blocks verified in ${(performance.now() - started).toFixed(0)} ms`)
  }

  /** A write failed (a full disk): nothing more is accepted, and 'halt' tells the node to shut down. */
  #halt (err: StoreError): void {
    if (this.#halted !== undefined) return
    this.#halted = err
    this.#log.error(`${err.message}; the chain accepts nothing more`)
    this.emit('halt', err)
  }

  /** Why the chain halted, if it did. */
  get halted (): StoreError | undefined { return this.#halted }

  /** Reads (or creates) the database's genesis, block index, tip and UTXO statistics. */
  async #load (): Promise<void> {
    const genesis = genesisBlock(this.params)
    const network = await this.#store.getMeta('network')
    if (network === undefined) {
      await this.#initGenesis(genesis)
    } else if (!equalBytes(network, genesis.id.bytes)) {
      throw new StoreError('WRONG_NETWORK', `the database at ${this.#store.path} holds another chain than ${this.params.name}'s (another network, or coints 0.1's lan, which 0.2 started anew): give another --datadir or move it away`)
    }
    for (const record of await this.#store.loadIndex()) this.#index.add(record)
    const tipDigest = await this.#store.getMeta('tip')
    const tip = tipDigest === undefined ? undefined : this.#index.get(cidFromDigest(tipDigest).toString())
    if (tip === undefined) throw new StoreError('CORRUPT_INDEX', `the tip of ${this.#store.path} is not in its block index`)
    this.#index.setBest(tip)
    await this.#coins.load()
  }

  /** Waits for the calls queued, writes the UTXO set held in memory, stops the verifier and closes the store. */
  async stop (): Promise<void> {
    await this.#starting?.catch(() => {})
    this.#starting = undefined
    if (!this.#started) return
    this.#started = false
    await this.#queue.idle()
    await this.#coins.flush().catch(err => { this.#log.error(`writing the UTXO set failed; blocks since its last write connect again on start: ${(err as Error).message}`) })
    await this.#verifier.stop()
    await this.#store.close()
  }

  async #initGenesis (genesis: Block): Promise<void> {
    const record = indexRecordOf(genesis)
    await this.#store.putBlock(genesis, record)
    const created = coinsOf(genesis.txs[0], 0)
    await this.#store.writeState({
      put: created,
      del: [],
      undo: [{ digest: record.digest, spent: [] }],
      tipDigest: record.digest,
      stats: { txouts: created.length, total: created.reduce((s, [, c]) => s + c.amount, 0n) }
    })
    await this.#store.putMeta('network', genesis.id.bytes)
  }

  /** The chain's clock, in seconds (mempool arrival times). */
  now (): number { return this.#now() }

  get tip (): BlockEntry { return this.#index.tip }
  get stats (): ChainStatsView { return this.#stats }
  get height (): number { return this.#index.tip.height }
  get orphanCount (): number { return this.#orphans.size }

  getEntry (id: string): BlockEntry | undefined {
    const e = this.#index.get(id)
    return e?.status === BlockStatus.VALID ? e : undefined
  }

  /** The best-chain block at a height. */
  getEntryAt (height: number): BlockEntry | undefined {
    return this.#index.atHeight(height)
  }

  isOnBestChain (id: string): boolean {
    const e = this.#index.get(id)
    return e !== undefined && this.#index.isOnBestChain(e)
  }

  /** The indexed blocks whose parent is `id` (any branch, invalid ones included), with where each stands. */
  childrenOf (id: string): Array<{ entry: BlockEntry, validity: BlockValidity }> {
    const entry = this.#index.get(id)
    if (entry === undefined) return []
    return this.#index.childrenOf(entry).map(e => this.blockInfo(e.idString) as { entry: BlockEntry, validity: BlockValidity })
  }

  hasBlock (id: string): boolean {
    return this.#index.get(id) !== undefined || this.#orphans.has(id)
  }

  /** An indexed block (invalid ones included: getEntry answers valid ones only) and where it stands; undefined for orphans and blocks never stored. */
  blockInfo (id: string): BlockInfo | undefined {
    const entry = this.#index.get(id)
    if (entry === undefined) return undefined
    return { entry, validity: entry.status === BlockStatus.INVALID ? 'invalid' : this.#index.isOnBestChain(entry) ? 'active' : 'valid-fork' }
  }

  /**
   * A stored block that is not known invalid: an invalid one is answered by its
   * header alone (getHeader). A valid one the index holds but the store does
   * not is damage (CORRUPT_BLOCK), never "not found".
   */
  async getBlock (id: CID): Promise<Block | undefined> {
    if (this.#index.get(id.toString())?.status !== BlockStatus.VALID) return undefined
    const block = await this.#store.getBlock(id)
    if (block === undefined) throw new StoreError('CORRUPT_BLOCK', `indexed block ${id.toString()} is not stored; ${REMEDY}`)
    return block
  }

  /** The header of any indexed block, invalid ones included. */
  async getHeader (id: CID): Promise<Header | undefined> {
    const entry = this.#index.get(id.toString())
    if (entry === undefined) return undefined
    // An invalid block's header is kept outside the blockstore (looked for in both: it moves once marked).
    const [first, second] = entry.status === BlockStatus.INVALID ? ['getInvalidHeader', 'getRaw'] as const : ['getRaw', 'getInvalidHeader'] as const
    const bytes = await this.#store[first](id) ?? await this.#store[second](id)
    if (bytes === undefined) throw new StoreError('CORRUPT_BLOCK', `the header of indexed block ${id.toString()} is not stored; ${REMEDY}`)
    try {
      return Header.fromBytes(bytes)
    } catch (err) {
      throw new StoreError('CORRUPT_BLOCK', `stored header ${id.toString()}: ${(err as Error).message}`)
    }
  }

  /** Stored blocks, for the first of `ids` up to the first not stored, in three reads (a scan's batches). */
  async getBlocks (ids: CID[]): Promise<Block[]> {
    return await this.#store.getBlocks(ids)
  }

  /**
   * Valid stored blocks in wire form, without decoding them (serving peers): the
   * first of `ids`, up to the first that is not a valid block we store.
   */
  async getBlocksWire (ids: CID[]): Promise<Uint8Array[]> {
    const valid = ids.findIndex(id => this.getEntry(id.toString()) === undefined)
    const wanted = valid < 0 ? ids : ids.slice(0, valid)
    const parts = await this.#store.getBlocksParts(wanted)
    if (parts.length < wanted.length) throw new StoreError('CORRUPT_BLOCK', `indexed block ${wanted[parts.length].toString()} is not stored; ${REMEDY}`)
    return parts.map(p => encodeBlockParts(p.header, p.txs))
  }

  /** Headers of indexed blocks, as stored (serving peers): one not stored is damage. */
  async getHeadersWire (ids: CID[]): Promise<Uint8Array[]> {
    return await this.#store.getHeaders(ids)
  }

  async getTx (id: CID): Promise<Tx | undefined> {
    return this.#mempool.get(id.toString())?.tx ?? await this.#store.getTx(id)
  }

  /** The median time past of a block (default: the tip): a block on it must be later. */
  medianTimePast (entry: BlockEntry = this.#index.tip): number {
    return this.#index.medianTimePast(this.#indexed(entry))
  }

  /** The bits a block on `parent` (default: the tip) must claim (btcd's CalcNextRequiredDifficulty). */
  nextBits (parent: BlockEntry = this.#index.tip): number {
    const p = this.#indexed(parent)
    return expectedBits(this.params, p.height + 1, p.bits, p.time, h => this.#index.ancestor(p, h).time)
  }

  /** The index's own entry of one it handed out. */
  #indexed (entry: BlockEntry): IndexEntry {
    const indexed = this.#index.get(entry.idString)
    if (indexed === undefined) throw new RangeError(`block ${entry.idString} is not indexed`)
    return indexed
  }

  locator (): string[] {
    return this.#index.locator()
  }

  utxoSummary (): UtxoSummary {
    const { txouts, total } = this.#coins.stats
    return { height: this.#index.tip.height, tip: this.#index.tip.idString, txouts, total }
  }

  async getCoins (keys: string[]): Promise<Map<string, Coin>> {
    return await this.#coins.getCoins(keys)
  }

  /** The coins a best-chain block spent (its undo data). */
  async getSpentCoins (entry: BlockEntry): Promise<Array<[string, Coin]>> {
    return await this.#coins.getUndo(entry.id.multihash.digest)
  }

  /** Writes the UTXO changes held in memory to LevelDB now (stop and verifychain do too). */
  async flush (): Promise<void> {
    await this.#exclusive(async () => { await this.#coins.flush() })
  }

  /** Runs state changes one at a time: blocks and transactions never interleave. */
  async #exclusive<T> (fn: () => Promise<T>): Promise<T> {
    // Refused when asked, not when run: stop() waits for what was queued before it.
    if (!this.#started) throw new ChainError('NOT_RUNNING', `the chain ${this.params.name} is stopped`)
    if (this.#halted !== undefined) throw new ChainError('HALTED', this.#halted.message)
    return await this.#queue.run(fn)
  }

  /**
   * Decodes a block message, reusing the mempool's transactions (same id, same
   * bytes) so their decoding, sighashes and verified signatures carry over.
   */
  decodeBlock (bytes: Uint8Array, expected?: Header): Block {
    return Block.decode(bytes, txBytes => this.#mempool.findByBytes(txBytes), expected)
  }

  /**
   * Validates and stores a block, moving the tip when it extends the chain with
   * most work. An unrequested block (`requested: false`, gossip) on a branch with
   * less work than the tip is refused before anything is written ('unwanted').
   */
  async processBlock (block: Block, options: ProcessOptions = {}): Promise<ProcessResult> {
    return await this.#exclusive(async () => {
      const result = await this.#processBlock(block, options.requested ?? true, options.source)
      if (stored(result)) await this.#processOrphans(block.idString)
      return result
    })
  }

  async #processOrphans (parentId: string): Promise<void> {
    const queue = [parentId]
    while (queue.length > 0) {
      for (const { block, requested, source } of this.#orphans.takeChildren(queue.shift() as string)) {
        try {
          const result = await this.#processBlock(block, requested, source)
          if (stored(result)) queue.push(block.idString)
          else this.#log.debug(`orphan ${block.idString} dropped: ${result.status}`)
        } catch (err) {
          this.#log.debug(`orphan ${block.idString} rejected: ${(err as Error).message}`)
        }
      }
    }
  }

  /** #validate, timed, its verdict told to 'block:processed' listeners (logs, metrics). */
  async #processBlock (block: Block, requested: boolean, source: string | undefined): Promise<ProcessResult> {
    const started = performance.now()
    const stages: BlockProcessed['stages'] = {}
    let mark = started
    const lap = (stage: ValidationStage): void => {
      const now = performance.now()
      stages[stage] = (now - mark) / 1000
      mark = now
    }
    let result: ProcessResult
    try {
      result = await this.#validate(block, requested, source, lap)
    } catch (err) {
      if (err instanceof BlockError) this.emit('block:processed', { block, status: 'invalid', code: err.code, source, stages, seconds: (performance.now() - started) / 1000 })
      throw err
    }
    this.emit('block:processed', { block, status: result.status, source, stages, seconds: (performance.now() - started) / 1000 })
    return result
  }

  async #validate (block: Block, requested: boolean, source: string | undefined, lap: (stage: ValidationStage) => void): Promise<ProcessResult> {
    const id = block.idString
    const known = this.#index.get(id)
    if (known !== undefined) {
      if (known.status === BlockStatus.INVALID) throw new BlockError('KNOWN_INVALID', id)
      return { status: 'known' }
    }
    if (this.#rejected.has(id)) throw new BlockError('KNOWN_INVALID', id)
    if (this.#orphans.has(id)) return { status: 'orphan', missing: this.#orphans.rootMissing(block) }

    checkBlockSanity(block, this.params, this.#now())
    lap('sanity')
    const prev = block.header.data.prev?.toString()
    const parent = prev === undefined ? undefined : this.#index.get(prev)
    if (parent === undefined) {
      if (prev === undefined) throw new BlockError('BAD_HEIGHT', 'a second genesis block')
      // Not an orphan: holding it would have us fetch a parent we refused.
      if (this.#rejected.has(prev)) {
        this.#rejected.add(id)
        throw new BlockError('PREV_INVALID', `parent ${prev} is invalid`)
      }
      this.#orphans.add(block, requested, source)
      this.#stats.orphans++
      return { status: 'orphan', missing: this.#orphans.rootMissing(block) }
    }
    if (parent.status === BlockStatus.INVALID) {
      this.#rejected.add(id)
      throw new BlockError('PREV_INVALID', `parent ${prev} is invalid`)
    }
    try {
      checkBlockContext(block, {
        parentHeight: parent.height,
        expectedBits: this.nextBits(parent),
        medianTimePast: this.#index.medianTimePast(parent)
      })
    } catch (err) {
      this.#rejected.add(id)
      throw err
    }
    lap('context')
    // As Bitcoin Core's AcceptBlock: a block nobody asked for matters only if its branch could be the best chain.
    const chainwork = parent.chainwork + workOf(block.header.data.bits)
    if (!requested && chainwork < this.#index.tip.chainwork) {
      this.#log.debug(`unrequested block ${id} at height ${block.height} has less work than the tip: not stored`)
      return { status: 'unwanted' }
    }
    // A block on the tip is checked against the coins (signatures on the workers) while it is stored.
    if (parent === this.#index.tip) {
      const check = this.#checkConnect(block)
      check.catch(() => {})
      this.#connectChecks.set(block, check)
    }
    // A block about to move the tip is judged in this call: the database as it was before
    // tells what the block brought, to delete again if it turns out invalid.
    const before = chainwork > this.#index.tip.chainwork ? this.#store.snapshot() : undefined
    let entry: IndexEntry
    try {
      const record = indexRecordOf(block)
      await this.#store.putBlock(block, record)
      entry = this.#index.add(record)
      this.#stats.arrived(id)
      lap('store')
      if (before !== undefined) {
        const failures = new Map<string, BlockError>()
        await this.#activateBestChain(entry, new Map([[id, block]]), failures)
        lap('connect')
        // Invalid itself or through an ancestor stored earlier as a side block: only its header stays.
        if (entry.status === BlockStatus.INVALID) await this.#store.dropBlockBody(block, before)
        const failure = failures.get(id)
        if (failure !== undefined) throw failure
        if (entry.status === BlockStatus.INVALID) throw new BlockError('PREV_INVALID', `an ancestor of ${id} is invalid: ${[...failures.values()][0]?.message}`)
      }
    } finally {
      // The check holds for this tip only.
      this.#connectChecks.delete(block)
      await before?.close()
    }
    return { status: this.#index.isOnBestChain(entry) ? 'connected' : 'side' }
  }

  /**
   * Moves the best chain to `target`: disconnects back to the fork point, then
   * connects the new branch one block at a time. A block that fails to
   * connect is marked invalid with its descendants and the chain with most
   * remaining work is chosen instead (possibly the old one).
   */
  async #activateBestChain (target: IndexEntry, inHand: Map<string, Block>, failures = new Map<string, BlockError>()): Promise<void> {
    const oldTip = this.#index.tip
    const oldChain = new Set<IndexEntry>()
    const disconnected: Array<[Block, IndexEntry]> = []
    const connected: IndexEntry[] = []
    for (;;) {
      const fork = this.#index.fork(target)
      while (this.#index.tip !== fork) {
        const [block, entry] = await this.#disconnectTip()
        disconnected.push([block, entry])
        oldChain.add(entry)
        const at = connected.indexOf(entry)
        if (at >= 0) connected.splice(at, 1)
      }
      const path: IndexEntry[] = []
      for (let e = target; e !== fork; e = this.#index.get(e.prev as string) as IndexEntry) path.unshift(e)
      let failed = false
      for (const entry of path) {
        const block = inHand.get(entry.idString) ?? await this.#store.getBlock(entry.id)
        if (block === undefined) throw new StoreError('CORRUPT_BLOCK', `indexed block ${entry.idString} is not stored; ${REMEDY}`)
        try {
          await this.#connectTip(block, entry)
          connected.push(entry)
        } catch (err) {
          if (!(err instanceof BlockError)) throw err
          this.#log.warn(`block ${entry.idString} at height ${entry.height} is invalid: ${err.message}`)
          failures.set(entry.idString, err)
          const marked = this.#index.invalidate(entry)
          await this.#store.markInvalid(marked.map(e => this.#index.toRecord(e)))
          // Stored before this call, they may share what they hold; the block in hand is dropped by #processBlock, from its snapshot.
          await dropInvalidBodies(this.#store, this.#index, marked.filter(e => !inHand.has(e.idString)))
          failed = true
          break
        }
      }
      if (!failed) break
      // The old tip wins ties: a failed switch must not move us to another branch of equal work.
      target = this.#index.bestCandidate(oldTip)
      if (target === this.#index.tip) break
    }
    // A block disconnected and connected again (a failed switch) did not leave the chain.
    const left = disconnected.filter(([, e]) => !this.#index.isOnBestChain(e))
    // Even back on the old tip: blocks connected for a while took their transactions from the mempool.
    const returned = await this.#refillMempool(left.map(([block]) => block))
    if (this.#index.tip === oldTip) return
    const change: TipChange = { tip: this.#index.tip, previous: oldTip, disconnected: left.map(([, e]) => e), connected: connected.filter(e => !oldChain.has(e)), returned }
    if (change.disconnected.length > 0) this.#stats.reorganised(change.disconnected.length)
    this.emit('tip', change)
  }

  async #connectTip (block: Block, entry: IndexEntry): Promise<void> {
    const result = await (this.#connectChecks.get(block) ?? this.#checkConnect(block))
    const { stats } = this.#coins
    this.#coins.apply({
      put: result.created,
      del: result.spent.map(pair => pair[0]),
      undo: { digest: entry.digest, spent: result.spent },
      tipDigest: entry.digest,
      stats: {
        txouts: stats.txouts + result.created.length - result.spent.length,
        total: stats.total + sumCoins(result.created) - sumCoins(result.spent)
      }
    })
    this.#index.pushBest(entry)
    const removed = this.#mempool.removeForBlock(block)
    this.emit('block:connected', block, entry)
    if (removed.length > 0) this.emit('tx:removed', removed)
    await this.#flushIfDue()
  }

  async #disconnectTip (): Promise<[Block, IndexEntry]> {
    const entry = this.#index.tip
    const parent = this.#index.get(entry.prev as string) as IndexEntry
    const block = await this.#store.getBlock(entry.id)
    if (block === undefined) throw new StoreError('CORRUPT_BLOCK', `connected block ${entry.idString} is not stored; ${REMEDY}`)
    const spent = await this.#coins.getUndo(entry.digest)
    const created = block.txs.flatMap(tx => coinsOf(tx, entry.height))
    const { stats } = this.#coins
    // Restore first, then delete: a coin created and spent inside the block ends up absent.
    this.#coins.apply({
      put: spent,
      del: created.map(pair => pair[0]),
      undo: { digest: entry.digest, spent: undefined },
      tipDigest: parent.digest,
      stats: {
        txouts: stats.txouts - created.length + spent.length,
        total: stats.total - sumCoins(created) + sumCoins(spent)
      }
    })
    this.#index.popBest()
    this.emit('block:disconnected', block, entry)
    await this.#flushIfDue()
    return [block, entry]
  }

  /**
   * Checks a block against the coins of the current tip: the UTXO rules on this
   * thread while its signatures verify on the workers. Changes nothing.
   */
  async #checkConnect (block: Block): Promise<ConnectResult> {
    // Signatures first, so the workers start at once. Transactions verified on
    // mempool entry are skipped before their checks are even built.
    const signatures = this.#verifier.verifyAll(this.#unverifiedChecks(block))
    const inputs: string[] = []
    for (let t = 0; t < block.txs.length; t++) {
      const keys = block.txs[t].inputKeys()
      for (let n = 0; n < keys.length; n++) inputs.push(keys[n])
    }
    let result
    try {
      result = connectBlockTxs(block, await this.#coins.getCoins(inputs), this.params)
    } finally {
      if (result === undefined) await signatures.catch(() => {})
    }
    if (!await signatures) throw new BlockError('BAD_TX', 'a transaction has an invalid signature', new TxError('BAD_SIGNATURE'))
    return result
  }

  * #unverifiedChecks (block: Block): Generator<SigCheck> {
    for (const tx of block.txs) if (!this.#verifier.has(tx.idString)) yield * sigChecksOf(tx, this.chainTag)
  }

  /**
   * Writes the coins in memory out when a flush is due. Memory is consistent
   * either way: a failed write leaves the disk at its last flush, as a crash would.
   */
  async #flushIfDue (): Promise<void> {
    if (this.#coins.flushDue) await this.#coins.flush()
  }

  /**
   * After a reorganisation: transactions of disconnected blocks and the old
   * mempool are validated again. Returns those of disconnected blocks that are back in the mempool.
   */
  async #refillMempool (disconnected: Block[]): Promise<Tx[]> {
    if (disconnected.length === 0) return []
    const old = this.#mempool.clear()
    const fromBlocks = disconnected.reverse().flatMap(b => b.txs.filter(tx => !tx.isCoinbase))
    const fromBlockSet = new Set(fromBlocks)
    const dropped: Tx[] = []
    const returned: Tx[] = []
    for (const tx of [...fromBlocks, ...old]) {
      try {
        this.emit('tx:accepted', this.#tookIn(await this.#mempool.accept(tx, this, this.#now())), fromBlockSet.has(tx) ? 'reorganisation' : undefined)
        if (fromBlockSet.has(tx)) returned.push(tx)
      } catch (err) {
        if (!(err instanceof TxError)) throw err
        if (err.code !== 'ALREADY_KNOWN') dropped.push(tx)
      }
    }
    if (dropped.length > 0) this.emit('tx:removed', dropped)
    return returned
  }

  /** What a transaction's entry into the mempool evicted leaves it, told before the transaction's own arrival. */
  #tookIn ({ entry, evicted }: Accepted): MempoolEntry {
    if (evicted.length > 0) this.emit('tx:removed', evicted)
    return entry
  }

  /**
   * Adds a transaction to the mempool; throws TxError with a code when it does
   * not qualify. `time`: when it first arrived, for one kept across a restart;
   * `source`: who brought it (a peer id, 'rpc', 'wallet'…), for logs and metrics.
   */
  async acceptTx (tx: Tx, time?: number, source?: string): Promise<MempoolEntry> {
    return await this.#exclusive(async () => {
      let entry: MempoolEntry
      try {
        entry = this.#tookIn(await this.#mempool.accept(tx, this, time ?? this.#now()))
      } catch (err) {
        if (err instanceof TxError) this.emit('tx:refused', { tx, code: err.code, source })
        throw err
      }
      this.#stats.arrived(tx.idString)
      this.emit('tx:accepted', entry, source)
      return entry
    })
  }

  /**
   * The mempool's packages by ancestor fee rate for a block on the tip, at most
   * maxBytes, once the blocks and transactions queued before are done:
   * mid-reorganisation the tip is the fork point and the mempool still holds
   * children of transactions in disconnected blocks, a block of which could not
   * connect. The selection shares the thread in slices: RPC and gossip are
   * served meanwhile.
   */
  async selectForBlock (maxBytes: number): Promise<BlockSelection> {
    return await this.#exclusive(async () => ({ parent: this.#index.tip, entries: await this.#mempool.selectForBlock(maxBytes) }))
  }

  /**
   * Recomputes the UTXO set from the stored blocks of the best chain and compares
   * it with the stored set (what a crash must never break), in the chain's turn.
   */
  async verifyChain (): Promise<UtxoCheck> {
    return await this.#exclusive(async () => {
      // The comparison is with the set on disk: everything held in memory goes there first.
      await this.#coins.flush()
      return await verifyUtxoSet(this.#store, this.#index, this.params, this.#coins.stats)
    })
  }
}

/** Whether a block was stored (so orphans waiting for it can follow). */
function stored (result: ProcessResult): boolean {
  return result.status === 'connected' || result.status === 'side'
}

function sumCoins (coins: Array<[string, Coin]>): bigint {
  let total = 0n
  for (let n = 0; n < coins.length; n++) total += coins[n][1].amount
  return total
}
