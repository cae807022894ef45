import { stat } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'
import type { HDKey } from '@scure/bip32'
import { decodeAddress, encodeAddress } from '../core/address.ts'
import { formatAmount, MAX_MONEY } from '../core/amount.ts'
import type { Block } from '../core/block.ts'
import { TxError, type DecodeError } from '../core/errors.ts'
import { toHex } from '../core/hash.ts'
import { quoted } from '../core/text.ts'
import { publicKeyOf } from '../core/keys.ts'
import type { NetworkParams } from '../core/params.ts'
import { OutPoint, outpointKey, parseOutpointKey } from '../core/outpoint.ts'
import { MAX_TX_BYTES, signTransaction, Tx, TX_VERSION, type TransactionData } from '../core/tx.ts'
import { isPackageLimitError } from '../chain/mempool.ts'
import type { ChainEventSource, ChainReader, ChainWriter, MempoolView } from '../chain/ports.ts'
import type { BlockEntry, MempoolEntry } from '../chain/types.ts'
import type { Logger } from '../log.ts'
import { writeFailure } from '../util/disk-usage.ts'
import { SerialQueue } from '../util/serial-queue.ts'
import { selectCoins } from './coin-select.ts'
import { WalletError } from './errors.ts'
import { HISTORY_DIR, HistoryStore, type ChainPoint, type HistoryState, type WalletTx } from './wallet-store.ts'
import type { Startable } from '../util/startable.ts'
import { accountKey, AddressDeriver, Branch, checkBip39Passphrase, checkMnemonic, DerivedAddress, newMnemonic, privateKeyOf } from './hd.ts'
import { decodeSecret, DEFAULT_KDF, decryptSecret, encodeSecret, encryptSecret, readWalletFile, writeWalletFile, type KdfParams, type WalletFile, type WalletSecret } from './keystore.ts'

export const WALLET_FILE = 'wallet.json'
/** Change below this many base units is left to the fee. */
const DUST = 1_000n
/** Longest unlock: a day. */
const MAX_UNLOCK_SECONDS = 86_400
/** Changes to the history reach its database in one batch this long after the first: a scan writes a batch per interval, not per block. */
const HISTORY_FLUSH_MS = 200
/** Blocks a scan reads at once (three LevelDB reads for all of them). */
const SCAN_BATCH = 32

/** What the wallet reads of the chain, and the one change it makes: its own transactions. */
export type WalletChain = ChainEventSource & Pick<ChainReader, 'chainTag' | 'height' | 'now' | 'getEntryAt' | 'getBlock' | 'getBlocks'> & Pick<ChainWriter, 'acceptTx'>

export interface WalletComponents {
  chain: WalletChain
  mempool: Pick<MempoolView, 'has' | 'entries' | 'minFeeRate' | 'limits'>
  logger: Logger
  /**
   * A write of the wallet's own files (its history, wallet.json) failed: the
   * node halts, as when the chain's fail. Called once; the wallet answers from
   * memory meanwhile, and its history writes nothing more.
   */
  onWriteFailure?: (err: WalletError) => void
}

export interface WalletInit {
  datadir: string
  params: NetworkParams
  /** Consecutive unused addresses watched past the last used one, per branch. */
  gapLimit?: number
  defaultFeeRate: number
  kdf?: KdfParams
  /**
   * How long a call that needs the whole history (balance, coins, history,
   * send) waits for a scan under way before answering WALLET_SCANNING (default 2 s).
   */
  scanWaitMs?: number
  /** Whether start() begins the scan (default true); if not, afterStart() does (the node's: once everything has started). */
  scanAtStart?: boolean
}

export interface WalletCoin {
  key: string
  tx: Tx
  index: number
  amount: bigint
  owner: DerivedAddress
  height: number | null
  coinbase: boolean
  state: 'confirmed' | 'unconfirmed' | 'immature'
}

export interface Balance { confirmed: bigint, unconfirmed: bigint, immature: bigint }

/** What a wallet transaction is to the wallet: a payment out, a receipt, or a coinbase (immature until it may be spent). */
export type WalletTxCategory = 'send' | 'receive' | 'generate' | 'immature'

/** The background scan under way: heights, progress 0..1 and seconds since it began (as Bitcoin Core's). */
export interface ScanProgress { height: number, tip: number, progress: number, duration: number }

export interface WalletInfo {
  exists: boolean
  network: string
  locked: boolean
  /** When the unlocked keys are forgotten, in ms since the epoch; undefined while locked. */
  unlockedUntil: number | undefined
  receiveIndex: number
  changeIndex: number
  /** undefined without a wallet. */
  birthHeight: number | undefined
  txCount: number
  /** false when no scan runs. */
  scanning: false | ScanProgress
  /** The last block whose transactions the wallet holds. */
  lastProcessed: ChainPoint | undefined
  /** Why the last scan stopped short of the tip. */
  scanError: WalletError | undefined
}

/** A history row: what a transaction did to the wallet. */
export interface WalletTxSummary {
  txid: string
  category: WalletTxCategory
  /** Net to the wallet, the fee included (negative for a payment). */
  net: bigint
  /** The fee, when the wallet paid all the inputs. */
  fee: bigint | undefined
  confirmations: number
  height: number | null
  time: number
}

/** An output of a wallet transaction the wallet shows: a payment to others ('send') or one received; change is left out. */
export interface WalletTxOutput {
  address: string
  category: WalletTxCategory
  amount: bigint
  vout: number
}

/** One wallet transaction in full: its summary, its block on the best chain once confirmed, and its outputs. */
export interface WalletTransaction extends WalletTxSummary {
  tx: Tx
  /** index: its place in the block, undefined when the block's transactions cannot be read. */
  block: { id: string, height: number, index: number | undefined, time: number } | undefined
  outputs: WalletTxOutput[]
}

/**
 * An HD wallet (BIP39 mnemonic, BIP32 keys) over the node's chain. The seed
 * (encrypted) and address indexes live in its file; the transactions it found
 * and the block it has scanned up to live in its history database, so a start
 * scans only the blocks that came after (in the background: the node answers
 * meanwhile). It follows connected and disconnected blocks and the mempool, so
 * a reorganisation makes a transaction unconfirmed again. A block it cannot
 * read stops the scan with SCAN_FAILED: it never gives a balance over a hole.
 */
export class Wallet implements Startable {
  readonly #c: WalletComponents
  readonly #init: WalletInit
  readonly #path: string
  readonly #gap: number
  readonly #history: HistoryStore
  #file: WalletFile | undefined
  #deriver: AddressDeriver | undefined
  /** Watched addresses by hex of their hash. */
  readonly #watched = new Map<string, DerivedAddress>()
  /** Watched addresses by branch, then index (0 up to the branch's index + gap). */
  readonly #addresses: [DerivedAddress[], DerivedAddress[]] = [[], []]
  /** Addresses derived since the last history write. */
  #derived: DerivedAddress[] = []
  readonly #txs = new Map<string, WalletTx>()
  /**
   * The last block whose transactions are in #txs; undefined: none yet, the
   * scan starts at the birth height. While the wallet listens it is always on
   * the best chain (a disconnected block is undone as it leaves).
   */
  #scanned: ChainPoint | undefined
  /** The background scan, while it runs; `done` settles when it ends. */
  #scan: { from: number, height: number, startedAt: number, done: Promise<void> } | undefined
  /** Why the last scan stopped short of the tip; cleared when a scan gets past it. */
  #scanError: WalletError | undefined
  /** Ids of transactions added, changed or removed since the last history write. */
  readonly #dirty = new Set<string>()
  #scannedDirty = false
  #flushTimer: NodeJS.Timeout | undefined
  #unlocked: { account: HDKey, until: number, timer: NodeJS.Timeout } | undefined
  #starting: Promise<void> | undefined
  #stopping = false
  #stopped: Promise<void> | undefined
  #listening = false
  /** The wallet file's and the history's writes, one at a time. */
  readonly #writes = new SerialQueue()
  /** Sends, one at a time: a second must not select coins the first is spending. */
  readonly #sends = new SerialQueue()
  /** The first write of the wallet's files that failed. */
  #writeFailure: WalletError | undefined

  constructor (components: WalletComponents, init: WalletInit) {
    this.#c = components
    this.#init = init
    this.#path = join(init.datadir, WALLET_FILE)
    this.#gap = init.gapLimit ?? 20
    this.#history = new HistoryStore(join(init.datadir, HISTORY_DIR), components.logger)
  }

  get exists (): boolean { return this.#file !== undefined }
  get tipHeight (): number { return this.#c.chain.height }

  /**
   * Loads the wallet and its history and starts the scan of what came after
   * (unless scanAtStart is false: then afterStart() starts it); returns without waiting for the scan.
   */
  async start (): Promise<void> {
    this.#starting ??= this.#start(this.#init.scanAtStart ?? true)
    await this.#starting
  }

  afterStart (): void {
    this.scan()
  }

  /** Starts the scan of the blocks after the scan point in the background, if one is due and none runs. */
  scan (): void {
    this.#startScan()
  }

  async #start (scan: boolean): Promise<void> {
    const file = await readWalletFile(this.#path)
    if (file === undefined || this.#stopping) return
    if (file.network !== this.#init.params.name) throw new WalletError('WRONG_NETWORK', `${this.#path} is a ${file.network} wallet, this node runs ${this.#init.params.name}`)
    const deriver = this.#deriverOf(file)
    await this.#history.open()
    const stored = await this.#history.load()
    const ours = stored !== undefined && stored.state.xpub === file.xpub
    if (stored !== undefined && !ours) this.#c.logger.warn(`the wallet history at ${this.#history.path} belongs to another wallet: rescanning from height ${file.birthHeight}`)
    if (!ours) await this.#history.clear()
    if (this.#stopping) return
    if (ours) {
      // Derived before: only addresses past them are derived again.
      for (const a of stored.addresses) {
        if (a.branch > Branch.CHANGE || a.index !== this.#addresses[a.branch].length) break
        this.#watch(new DerivedAddress(a.branch as Branch, a.index, a.hash, deriver.prefix))
      }
    }
    this.#load(file, deriver)
    if (ours) {
      for (const wtx of stored.txs) this.#record(wtx.tx, wtx.height, wtx.time, false)
      this.#scanned = this.#rewind(stored.state.scanned)
    }
    // No await from the rewind to here: no block can leave the chain unseen.
    this.#listen()
    if (scan) this.#startScan()
  }

  /** Tells the scan to end at its next block, so the stop does not wait for it. */
  beforeStop (): void {
    this.#stopping = true
    this.lock()
    this.#unlisten()
  }

  /** Ends the scan (at its next block), writes the history and closes it. */
  async stop (): Promise<void> {
    this.beforeStop()
    this.#stopped ??= this.#stop()
    await this.#stopped
  }

  async #stop (): Promise<void> {
    await this.#starting?.catch(() => {})
    await this.#scan?.done
    if (this.#history.isOpen) {
      await this.#flushHistory().catch(() => {})
      await this.#writes.idle()
      await this.#history.close()
    }
  }

  /**
   * Makes a new wallet, its file encrypted under `passphrase`; returns its
   * mnemonic (the only backup of its keys, with the BIP39 passphrase if one is given).
   */
  async create (passphrase: string, bip39Passphrase?: string): Promise<string> {
    const mnemonic = newMnemonic()
    await this.#make({ mnemonic, bip39Passphrase: checkBip39Passphrase(bip39Passphrase) }, passphrase, this.#c.chain.height)
    return mnemonic
  }

  /** Recreates a wallet from its mnemonic (and BIP39 passphrase, if it had one) and finds its coins by a scan of the whole chain, which it waits for. */
  async restore (mnemonic: string, passphrase: string, bip39Passphrase?: string): Promise<void> {
    await this.#make({ mnemonic: checkMnemonic(mnemonic), bip39Passphrase: checkBip39Passphrase(bip39Passphrase) }, passphrase, 0)
    await this.#whenScanned(Infinity)
  }

  async #make (secret: WalletSecret, passphrase: unknown, birthHeight: number): Promise<void> {
    if (this.#file !== undefined) throw new WalletError('WALLET_EXISTS', `this node already has a wallet (${this.#path})`)
    if (typeof passphrase !== 'string' || passphrase.length === 0) throw new WalletError('BAD_PASSPHRASE', 'a wallet needs a non-empty passphrase')
    const file: WalletFile = {
      version: 1,
      network: this.#init.params.name,
      birthHeight,
      xpub: accountKey(secret.mnemonic, this.#init.params, secret.bip39Passphrase).publicExtendedKey,
      receiveIndex: 0,
      changeIndex: 0,
      ...await encryptSecret(encodeSecret(secret), passphrase, this.#init.kdf ?? DEFAULT_KDF)
    }
    // A history left by an earlier wallet of this datadir is not this one's.
    await this.#history.open()
    await this.#history.clear()
    const deriver = this.#deriverOf(file)
    await writeWalletFile(this.#path, file)
    this.#load(file, deriver)
    // Nothing before its birth can pay a new wallet's keys: its scan starts there.
    this.#scanned = pointOf(this.#c.chain.getEntryAt(birthHeight - 1))
    this.#scannedDirty = true
    this.#listen()
    this.#startScan()
  }

  #deriverOf (file: WalletFile): AddressDeriver {
    try {
      return new AddressDeriver(file.xpub, this.#init.params)
    } catch (err) {
      throw new WalletError('CORRUPT_WALLET_FILE', `${this.#path} holds no valid extended public key (${(err as Error).message}): restore the wallet from its mnemonic`)
    }
  }

  #load (file: WalletFile, deriver: AddressDeriver): void {
    this.#deriver = deriver
    this.#file = file
    this.#watchUpTo(Branch.RECEIVE, file.receiveIndex + this.#gap)
    this.#watchUpTo(Branch.CHANGE, file.changeIndex + this.#gap)
  }

  #listen (): void {
    if (!this.#listening && !this.#stopping) this.#follow('on')
  }

  #unlisten (): void {
    if (this.#listening) this.#follow('off')
  }

  #follow (how: 'on' | 'off'): void {
    const { chain } = this.#c
    chain[how]('block:connected', this.#onConnected)
    chain[how]('block:disconnected', this.#onDisconnected)
    chain[how]('tx:accepted', this.#onAccepted)
    chain[how]('tx:removed', this.#onRemoved)
    this.#listening = how === 'on'
  }

  #watchUpTo (branch: Branch, count: number): void {
    const deriver = this.#deriver as AddressDeriver
    for (let i = this.#addresses[branch].length; i < count; i++) {
      const a = deriver.derive(branch, i)
      this.#watch(a)
      this.#derived.push(a)
    }
    if (this.#derived.length > 0) this.#flushSoon()
  }

  #watch (a: DerivedAddress): void {
    this.#watched.set(toHex(a.hash), a)
    this.#addresses[a.branch].push(a)
  }

  #requireFile (): WalletFile {
    if (this.#file === undefined) throw new WalletError('NO_WALLET', 'this node has no wallet: create one (coints wallet create) or restore one')
    return this.#file
  }

  /**
   * The scan point at start: the stored one if the best chain still holds it,
   * else the highest of its locator that it holds (at or below the fork), with
   * every transaction the wallet learned above that unconfirmed again.
   */
  #rewind (scanned: ChainPoint[]): ChainPoint | undefined {
    const onChain = (p: ChainPoint): boolean => this.#c.chain.getEntryAt(p.height)?.idString === p.id
    if (onChain(scanned[0])) return scanned[0]
    const fork = scanned.find(onChain)
    let undone = 0
    for (const [id, wtx] of this.#txs) {
      if (wtx.height !== null && wtx.height > (fork?.height ?? -1)) {
        this.#unconfirm(id, wtx)
        undone++
      }
    }
    this.#scannedDirty = true
    this.#c.logger.info(`the chain no longer holds block ${scanned[0].id} at height ${scanned[0].height}, where the wallet stopped: scanning again from height ${fork === undefined ? this.#requireFile().birthHeight : fork.height + 1}, ${undone} transactions unconfirmed meanwhile`)
    return fork
  }

  /** The height the scan reads next. */
  #nextHeight (): number {
    return this.#scanned === undefined ? this.#requireFile().birthHeight : this.#scanned.height + 1
  }

  #startScan (): void {
    if (this.#scan !== undefined || !this.#listening) return
    const scan = { from: this.#nextHeight(), height: this.#nextHeight(), startedAt: Date.now(), done: Promise.resolve() }
    this.#scan = scan
    this.#scanError = undefined
    scan.done = this.#runScan(scan)
  }

  /** Reads the best chain's blocks up to the tip, then brings the wallet's unconfirmed transactions up to date. */
  async #runScan (scan: { from: number, height: number }): Promise<void> {
    try {
      for (;;) {
        await this.#scanBlocks(scan)
        if (!this.#listening) break
        await this.#resubmitUnconfirmed()
        // Blocks that connected during the resubmission were left to the scan.
        if (!this.#listening || this.#nextHeight() > this.#c.chain.height) break
      }
    } catch (err) {
      const failure = err instanceof WalletError ? err : new WalletError('SCAN_FAILED', (err as Error).message)
      if (failure.message !== this.#scanError?.message) this.#c.logger.error(failure.message)
      this.#scanError = failure
    } finally {
      // Synchronously with the last check: a block connected from here on is the listeners'.
      this.#scan = undefined
      this.#flushSoon()
    }
  }

  async #scanBlocks (scan: { from: number, height: number }): Promise<void> {
    const { chain, logger } = this.#c
    let batch = SCAN_BATCH
    for (let h = this.#nextHeight(); h <= chain.height && this.#listening; h = this.#nextHeight()) {
      scan.height = h
      const entries: BlockEntry[] = []
      for (let k = h; k <= chain.height && entries.length < batch; k++) entries.push(chain.getEntryAt(k) as BlockEntry)
      let blocks: Block[] = []
      let failure: Error | undefined
      try {
        blocks = await chain.getBlocks(entries.map(e => e.id))
      } catch (err) {
        failure = err as Error
      }
      if (!this.#listening) return
      // Which block cannot be read: one at a time from here.
      if (failure !== undefined && entries.length > 1) {
        batch = 1
        continue
      }
      for (let n = 0; n < entries.length; n++) {
        const entry = entries[n]
        // The chain may have moved while the blocks were read (a reorganisation undid the scan point, or replaced this block): read again.
        if (chain.getEntryAt(entry.height) !== entry || this.#nextHeight() !== entry.height) break
        const block = blocks[n]
        if (block === undefined) {
          throw new WalletError('SCAN_FAILED', `the wallet cannot read block ${entry.idString} at height ${entry.height} (${failure?.message ?? 'not stored'}): it knows nothing above height ${entry.height - 1} and gives no balance until the block can be read (repair the chain: coints node --reindex)`)
        }
        this.#applyBlock(block, entry)
        if (entry.height % 1_000 === 0 && entry.height > scan.from) logger.info(`wallet scan at ${entry.height} of ${chain.height}`)
      }
    }
  }

  /**
   * Unconfirmed transactions of the wallet that the mempool lost while the
   * node was down go back to it (and so to peers, as Bitcoin Core's wallet
   * resubmits its own); those the chain no longer takes are forgotten. Then
   * whatever the mempool holds for the wallet is recorded.
   */
  async #resubmitUnconfirmed (): Promise<void> {
    const { chain, mempool } = this.#c
    let pending = [...this.#txs.values()].filter(w => w.height === null && !mempool.has(w.tx.idString)).sort((a, b) => a.time - b.time)
    const dropped: WalletTx[] = []
    while (pending.length > 0 && this.#listening) {
      const waiting: WalletTx[] = []
      for (const wtx of pending) {
        try {
          await chain.acceptTx(wtx.tx, wtx.time, 'wallet')
        } catch (err) {
          if (!(err instanceof TxError)) throw err
          // A parent later in the list (same second, or resubmitted after it) may come first.
          if (err.code === 'MISSING_INPUT') waiting.push(wtx)
          else if (err.code !== 'ALREADY_KNOWN') dropped.push(wtx)
        }
      }
      if (waiting.length === pending.length) dropped.push(...waiting)
      pending = waiting.length === pending.length ? [] : waiting
    }
    for (const wtx of dropped) {
      const id = wtx.tx.idString
      if (this.#txs.get(id) === wtx && wtx.height === null && !mempool.has(id)) this.#forget(id)
    }
    for (const entry of mempool.entries()) this.#onAccepted(entry)
  }

  /**
   * Resolves once the history is complete (at the tip, no scan under way),
   * waiting up to `waitMs` for a scan; else throws WALLET_SCANNING, or the
   * scan's SCAN_FAILED.
   */
  async #whenScanned (waitMs = this.#init.scanWaitMs ?? 2_000): Promise<void> {
    this.#requireFile()
    const scan = this.#scan
    if (scan !== undefined) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([scan.done, ...waitMs === Infinity ? [] : [new Promise(resolve => { timer = setTimeout(resolve, waitMs) })]])
      clearTimeout(timer)
    }
    if (this.#scanError !== undefined) throw this.#scanError
    const tip = this.#c.chain.height
    const next = this.#nextHeight()
    if (this.#scan !== undefined || next <= tip) {
      const height = this.#scan?.height ?? next
      throw new WalletError('WALLET_SCANNING', `the wallet is catching up with the chain (block ${height} of ${tip}): its balance is not known yet, try again shortly`)
    }
  }

  /** Whether a transaction pays one of our addresses or spends one of our coins. */
  #touches (tx: Tx): boolean {
    if (tx.data.outputs.some(o => this.#watched.has(toHex(o.address)))) return true
    return tx.inputKeys().some(key => this.#ownCoin(key) !== undefined)
  }

  #ownCoin (key: string): { amount: bigint, owner: DerivedAddress } | undefined {
    const { txid, index } = parseOutpointKey(key)
    const out = this.#txs.get(txid)?.tx.data.outputs[index]
    const owner = out === undefined ? undefined : this.#watched.get(toHex(out.address))
    return out === undefined || owner === undefined ? undefined : { amount: out.amount, owner }
  }

  /** Adds or updates a transaction of ours; `changed` false when it comes from the history itself. */
  #record (tx: Tx, height: number | null, time: number, changed = true): void {
    this.#txs.set(tx.idString, { tx, height, time })
    if (changed) this.#changed(tx.idString)
    let bumped = false
    for (const out of tx.data.outputs) {
      const owner = this.#watched.get(toHex(out.address))
      if (owner === undefined) continue
      // A used address moves the window, so a restored wallet finds addresses beyond the gap.
      this.#watchUpTo(owner.branch, owner.index + 1 + this.#gap)
      const file = this.#file as WalletFile
      const field = owner.branch === Branch.RECEIVE ? 'receiveIndex' : 'changeIndex'
      if (owner.index >= file[field]) {
        file[field] = owner.index + 1
        bumped = true
      }
    }
    if (bumped) void this.#saveOrLog()
  }

  #forget (id: string): void {
    this.#txs.delete(id)
    this.#changed(id)
  }

  /** A transaction whose block left the chain: unconfirmed again (back in the mempool, tx:accepted, or gone, tx:removed); a coinbase is gone. */
  #unconfirm (id: string, wtx: WalletTx): void {
    if (wtx.tx.isCoinbase) {
      this.#forget(id)
    } else {
      wtx.height = null
      this.#changed(id)
    }
  }

  #changed (id: string): void {
    this.#dirty.add(id)
    this.#flushSoon()
  }

  #flushSoon (): void {
    if (this.#flushTimer !== undefined || !this.#history.isOpen) return
    this.#flushTimer = setTimeout(() => { this.#flushHistory().catch(() => {}) }, HISTORY_FLUSH_MS)
  }

  /**
   * Writes the history's changes and scan point in one batch. The scan point
   * written is never ahead of the transactions written with it. A failed write
   * keeps its changes in memory, is reported (#failed) and thrown. `sync`: see HistoryStore.write.
   */
  async #flushHistory (opts: { sync?: boolean } = {}): Promise<void> {
    clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    if (this.#dirty.size === 0 && !this.#scannedDirty && this.#derived.length === 0) return
    const ids = [...this.#dirty]
    const state = this.#scannedDirty ? this.#historyState() : undefined
    const addresses = this.#derived
    this.#dirty.clear()
    this.#scannedDirty = false
    this.#derived = []
    const put: WalletTx[] = []
    const del: string[] = []
    for (const id of ids) {
      const wtx = this.#txs.get(id)
      if (wtx === undefined) del.push(id)
      else put.push(wtx)
    }
    await this.#writes.run(async () => { await this.#history.write({ put, del, addresses, state }, opts) }).catch(err => {
      for (const id of ids) this.#dirty.add(id)
      this.#scannedDirty ||= state !== undefined
      this.#derived.unshift(...addresses)
      throw this.#failed(err)
    })
  }

  /** A write of the wallet's files failed: logged and reported once (the node halts). */
  #failed (err: unknown): unknown {
    if (this.#writeFailure === undefined && err instanceof WalletError) {
      this.#writeFailure = err
      this.#c.logger.error(err.message)
      this.#c.onWriteFailure?.(err)
    }
    return err
  }

  /** The scan point with a locator of its ancestors: heights 1, 2, 4, 8… below it, and genesis. */
  #historyState (): HistoryState | undefined {
    const scanned = this.#scanned
    if (scanned === undefined) return undefined
    const points = [scanned]
    for (let back = 1; scanned.height - back > 0; back *= 2) points.push(pointOf(this.#c.chain.getEntryAt(scanned.height - back)) as ChainPoint)
    if (scanned.height > 0) points.push(pointOf(this.#c.chain.getEntryAt(0)) as ChainPoint)
    return { xpub: this.#requireFile().xpub, scanned: points }
  }

  /**
   * Writes the wallet file. Writes run one at a time, each of the state when it
   * starts, so an older state can never be written over a newer one.
   */
  async #save (): Promise<void> {
    await this.#writes.run(async () => {
      if (this.#file === undefined) return
      try {
        await writeWalletFile(this.#path, this.#file)
      } catch (err) {
        // The file written before stays whole (an atomic write); what it lacks, indexes, the history gives back.
        const { code, message } = writeFailure(`writing ${this.#path}`, err, 'the wallet finds its addresses again in its history')
        throw this.#failed(new WalletError(code, message))
      }
    })
  }

  /** For saves after the fact (a transaction already seen): a failure is reported (#failed), not thrown. */
  async #saveOrLog (): Promise<void> {
    await this.#save().catch(() => {})
  }

  #applyBlock (block: Block, entry: BlockEntry): void {
    for (const tx of block.txs) if (this.#touches(tx)) this.#record(tx, entry.height, entry.time)
    this.#scanned = { height: entry.height, id: entry.idString }
    this.#scannedDirty = true
    this.#flushSoon()
  }

  readonly #onConnected = (block: Block, entry: BlockEntry): void => {
    // While a scan runs, it reads the block itself.
    if (this.#scan !== undefined) return
    if (this.#scanError === undefined && entry.height === this.#nextHeight() && (this.#scanned === undefined || entry.prev === this.#scanned.id)) this.#applyBlock(block, entry)
    else this.#startScan()
  }

  readonly #onDisconnected = (block: Block, entry: BlockEntry): void => {
    // A block the wallet has not scanned taught it nothing.
    if (this.#scanned?.id !== entry.idString) return
    for (const tx of block.txs) {
      const wtx = this.#txs.get(tx.idString)
      if (wtx?.height === entry.height) this.#unconfirm(tx.idString, wtx)
    }
    this.#scanned = entry.prev === null ? undefined : { height: entry.height - 1, id: entry.prev }
    this.#scannedDirty = true
    this.#flushSoon()
  }

  readonly #onAccepted = (entry: MempoolEntry): void => {
    const known = this.#txs.get(entry.tx.idString)
    if (known === undefined && this.#touches(entry.tx)) this.#record(entry.tx, null, entry.time)
  }

  readonly #onRemoved = (txs: Tx[]): void => {
    for (const tx of txs) {
      if (this.#txs.get(tx.idString)?.height === null && !this.#c.mempool.has(tx.idString)) this.#forget(tx.idString)
    }
  }

  /** Our unspent outputs, confirmed or not, minus those our own pending transactions spend (once the history is complete). */
  async coins (): Promise<WalletCoin[]> {
    await this.#whenScanned()
    return this.#coins()
  }

  #coins (): WalletCoin[] {
    const spent = new Set<string>()
    for (const { tx } of this.#txs.values()) for (const key of tx.inputKeys()) spent.add(key)
    const next = this.#c.chain.height + 1
    const coins: WalletCoin[] = []
    for (const { tx, height } of this.#txs.values()) {
      tx.data.outputs.forEach((out, index) => {
        const owner = this.#watched.get(toHex(out.address))
        const key = outpointKey(tx.idString, index)
        if (owner === undefined || spent.has(key)) return
        const state = height === null ? 'unconfirmed' : tx.isCoinbase && next - height < this.#init.params.coinbaseMaturity ? 'immature' : 'confirmed'
        coins.push({ key, tx, index, amount: out.amount, owner, height, coinbase: tx.isCoinbase, state })
      })
    }
    return coins
  }

  async balance (): Promise<Balance> {
    const b: Balance = { confirmed: 0n, unconfirmed: 0n, immature: 0n }
    for (const coin of await this.coins()) b[coin.state] += coin.amount
    return b
  }

  info (): WalletInfo {
    const file = this.#file
    const scan = this.#scan
    const tip = this.#c.chain.height
    return {
      exists: file !== undefined,
      network: this.#init.params.name,
      locked: this.#unlocked === undefined,
      unlockedUntil: this.#unlocked?.until,
      receiveIndex: file?.receiveIndex ?? 0,
      changeIndex: file?.changeIndex ?? 0,
      birthHeight: file?.birthHeight,
      txCount: this.#txs.size,
      scanning: scan === undefined
        ? false
        : { height: scan.height, tip, progress: Math.min(1, (scan.height - scan.from) / Math.max(1, tip + 1 - scan.from)), duration: Math.floor((Date.now() - scan.startedAt) / 1000) },
      lastProcessed: this.#scanned,
      scanError: this.#scanError
    }
  }

  /** A fresh receiving address (the index moves on, and is saved, at once). */
  async newAddress (branch: Branch = Branch.RECEIVE): Promise<DerivedAddress> {
    const file = this.#requireFile()
    const field = branch === Branch.RECEIVE ? 'receiveIndex' : 'changeIndex'
    const address = this.#addresses[branch][file[field]]
    file[field]++
    this.#watchUpTo(branch, file[field] + this.#gap)
    await this.#save()
    return address
  }

  async unlock (passphrase: string, seconds: number): Promise<void> {
    const file = this.#requireFile()
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_UNLOCK_SECONDS) throw new WalletError('BAD_PASSPHRASE', `unlock for 1 to ${MAX_UNLOCK_SECONDS} seconds`)
    const { mnemonic, bip39Passphrase } = decodeSecret(await decryptSecret(file, passphrase))
    this.lock()
    const timer = setTimeout(() => { this.lock() }, seconds * 1000)
    timer.unref()
    this.#unlocked = { account: accountKey(mnemonic, this.#init.params, bip39Passphrase), until: Date.now() + seconds * 1000, timer }
  }

  lock (): void {
    if (this.#unlocked === undefined) return
    clearTimeout(this.#unlocked.timer)
    this.#unlocked.account.wipePrivateData()
    this.#unlocked = undefined
  }

  /** Builds, signs and submits a payment; returns its id. Changes nothing when it fails. */
  async send (address: string, amount: bigint, feeRate = this.#init.defaultFeeRate): Promise<string> {
    const file = this.#requireFile()
    let to: Uint8Array
    try {
      to = decodeAddress(this.#init.params.addressPrefix, address)
    } catch (err) {
      throw new WalletError('BAD_ADDRESS', (err as DecodeError).reason)
    }
    if (amount <= 0n || amount > MAX_MONEY) throw new WalletError('BAD_AMOUNT', `cannot send ${formatAmount(amount)}`)
    if (!Number.isFinite(feeRate) || feeRate < this.#c.mempool.minFeeRate || feeRate > 1_000_000) {
      throw new WalletError('BAD_FEE_RATE', `fee rate must be ${this.#c.mempool.minFeeRate} to 1000000 base units per byte`)
    }
    return await this.#sends.run(async () => {
      const unlocked = this.#unlocked
      if (unlocked === undefined) throw new WalletError('WALLET_LOCKED', 'the wallet is locked: unlock it with walletpassphrase first')
      // Never selected from a history still being scanned: a coin it has not reached may be spent already.
      await this.#whenScanned()
      const spendable = this.#coins().filter(c => c.state === 'confirmed' || (c.state === 'unconfirmed' && c.tx.inputKeys().every(k => this.#ownCoin(k) !== undefined)))
      const changeAddress = this.#addresses[Branch.CHANGE][file.changeIndex]
      // One key derivation a coin, however many drafts price it.
      const keys = new Map<WalletCoin, { privateKey: Uint8Array, publicKey: Uint8Array }>()
      const keyOf = (c: WalletCoin): { privateKey: Uint8Array, publicKey: Uint8Array } => {
        let key = keys.get(c)
        if (key === undefined) {
          const privateKey = privateKeyOf(unlocked.account, c.owner.branch, c.owner.index)
          keys.set(c, key = { privateKey, publicKey: publicKeyOf(privateKey) })
        }
        return key
      }
      const build = (inputs: WalletCoin[], change: bigint | undefined): TransactionData => ({
        version: TX_VERSION,
        inputs: inputs.map(c => ({ prev: OutPoint.of(c.tx.id, c.index), pubkey: keyOf(c).publicKey, sig: new Uint8Array(64) })),
        outputs: [{ amount, address: to }, ...(change === undefined ? [] : [{ amount: change, address: changeAddress.hash }])]
      })
      // Signatures have a fixed size, so an unsigned draft with amounts at their widest sizes the real transaction.
      const draftBytes = (inputs: WalletCoin[], withChange: boolean): number => Tx.create(build(inputs, withChange ? MAX_MONEY : undefined)).bytes.length
      const pay = async (coins: WalletCoin[]): Promise<Tx> => {
        const { inputs, change } = selectCoins(coins, amount, draftBytes, { feeRate, dust: DUST, maxBytes: MAX_TX_BYTES })
        const tx = signTransaction(build(inputs, change > 0n ? change : undefined), inputs.map(c => keyOf(c).privateKey), this.#c.chain.chainTag)
        await this.#commit(tx)
        return tx
      }
      const tx = await pay(spendable).catch(async (err: unknown) => {
        // Unconfirmed change chained up to the mempool's package limits: confirmed coins alone may still pay.
        if (!isPackageLimitError(err)) throw err
        return await pay(spendable.filter(c => c.state === 'confirmed')).catch((again: unknown) => {
          if (!(again instanceof WalletError && again.code === 'INSUFFICIENT_FUNDS')) throw again
          const { ancestorCount, ancestorBytes } = this.#c.mempool.limits
          throw new WalletError('UNCONFIRMED_CHAIN_TOO_LONG', `only unconfirmed change can pay this, and spending it would pass the mempool's limit of ${ancestorCount} unconfirmed transactions (or ${ancestorBytes} bytes) in one chain (${err.code}): wait for a confirmation and send again`)
        })
      })
      return tx.idString
    })
  }

  /**
   * Keeps a signed payment in the history, synced, then submits it (as Bitcoin
   * Core's CommitTransaction writes the wallet first): a payment the wallet
   * cannot keep (a full disk) is never sent, and a crash or power cut once it
   * is sent cannot lose it. Its change moves the address index; a payment
   * refused leaves the wallet as it was.
   */
  async #commit (tx: Tx): Promise<void> {
    const file = this.#requireFile()
    const time = this.#c.chain.now()
    const { changeIndex } = file
    this.#record(tx, null, time)
    const unrecord = (): void => {
      this.#forget(tx.idString)
      file.changeIndex = changeIndex
      void this.#saveOrLog()
    }
    try {
      await this.#flushHistory({ sync: true })
    } catch (err) {
      unrecord()
      throw new WalletError((err as WalletError).code, `the payment was not sent: ${(err as WalletError).reason}`)
    }
    try {
      await this.#c.chain.acceptTx(tx, time, 'wallet')
    } catch (err) {
      // A scan's resubmission of the wallet's unconfirmed transactions may have sent it already.
      if (!(err instanceof TxError && err.code === 'ALREADY_KNOWN')) {
        unrecord()
        throw err
      }
    }
  }

  /** History, newest first: net amount to the wallet, fee when it paid one, and confirmations. */
  async transactions (): Promise<WalletTxSummary[]> {
    await this.#whenScanned()
    const rows = [...this.#txs.values()].map(wtx => this.#summary(wtx))
    return rows.sort((a, b) => (b.height ?? Infinity) - (a.height ?? Infinity) || b.time - a.time)
  }

  /** What a transaction does to the wallet: net amount (fee included), the fee when the wallet paid all its inputs, category and confirmations. */
  #summary ({ tx, height, time }: WalletTx): WalletTxSummary {
    let received = 0n
    for (const out of tx.data.outputs) if (this.#watched.has(toHex(out.address))) received += out.amount
    let sent = 0n
    let allOurs = tx.data.inputs.length > 0
    for (const key of tx.inputKeys()) {
      const own = this.#ownCoin(key)
      if (own === undefined) allOurs = false
      else sent += own.amount
    }
    const outputs = tx.data.outputs.reduce((s, o) => s + o.amount, 0n)
    const net = received - sent
    const confirmations = height === null ? 0 : this.#c.chain.height - height + 1
    const category = tx.isCoinbase
      ? (confirmations < this.#init.params.coinbaseMaturity ? 'immature' : 'generate')
      : net >= 0n ? 'receive' : 'send'
    return { txid: tx.idString, category, net, fee: allOurs ? sent - outputs : undefined, confirmations, height, time }
  }

  /** Height of a wallet transaction's block: null while unconfirmed, undefined when the wallet has no such transaction. */
  heightOf (txid: string): number | null | undefined {
    return this.#txs.get(txid)?.height
  }

  /** One wallet transaction: its summary, its block, and the outputs paid to others and received (change left out). */
  async transaction (txid: string): Promise<WalletTransaction | undefined> {
    await this.#whenScanned()
    const wtx = this.#txs.get(txid)
    if (wtx === undefined) return undefined
    const { tx, height } = wtx
    const summary = this.#summary(wtx)
    const prefix = this.#init.params.addressPrefix
    const outputs: WalletTxOutput[] = []
    tx.data.outputs.forEach((out, vout) => {
      const owner = this.#watched.get(toHex(out.address))
      const address = encodeAddress(prefix, out.address)
      if (summary.fee !== undefined && owner?.branch !== Branch.CHANGE) outputs.push({ address, category: 'send', amount: out.amount, vout })
      if (owner !== undefined && (summary.fee === undefined || owner.branch === Branch.RECEIVE)) outputs.push({ address, category: tx.isCoinbase ? summary.category : 'receive', amount: out.amount, vout })
    })
    const entry = height === null ? undefined : this.#c.chain.getEntryAt(height)
    const block = entry === undefined ? undefined : await this.#c.chain.getBlock(entry.id)
    return {
      ...summary,
      tx,
      block: entry === undefined ? undefined : { id: entry.idString, height: entry.height, index: block?.txs.findIndex(t => t.idString === txid), time: entry.time },
      outputs
    }
  }

  /** Writes a copy of the wallet file to `path` (atomically; into `path`/wallet.json when it is a directory). */
  async backup (path: string): Promise<string> {
    this.#requireFile()
    if (!isAbsolute(path)) throw new WalletError('BAD_PATH', `give the backup's absolute path (the node's working directory is not the caller's), got ${quoted(path)}`)
    const target = await stat(path).then(s => s.isDirectory() ? join(path, WALLET_FILE) : path, () => path)
    if (resolve(target) === resolve(this.#path)) throw new WalletError('BAD_PATH', `${target} is the wallet file itself`)
    try {
      await this.#writes.run(async () => { await writeWalletFile(target, this.#file as WalletFile) })
    } catch (err) {
      throw new WalletError('BACKUP_FAILED', `cannot write ${target}: ${(err as Error).message}`)
    }
    return target
  }

  /** Encrypts the wallet's secret under a new passphrase; the old one must be right. The wallet stays locked or unlocked as it was. */
  async changePassphrase (oldPassphrase: string, newPassphrase: string): Promise<void> {
    const file = this.#requireFile()
    if (newPassphrase.length === 0) throw new WalletError('BAD_PASSPHRASE', 'the new passphrase must not be empty')
    const secret = await decryptSecret(file, oldPassphrase)
    Object.assign(file, await encryptSecret(secret, newPassphrase, this.#init.kdf ?? DEFAULT_KDF))
    await this.#save()
  }
}

function pointOf (entry: BlockEntry | undefined): ChainPoint | undefined {
  return entry === undefined ? undefined : { height: entry.height, id: entry.idString }
}
