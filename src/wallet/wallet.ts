import { join } from 'node:path'
import type { HDKey } from '@scure/bip32'
import { decodeAddress } from '../core/address.ts'
import { formatAmount, MAX_MONEY } from '../core/amount.ts'
import type { Block } from '../core/block.ts'
import type { DecodeError } from '../core/errors.ts'
import { toHex } from '../core/hash.ts'
import { publicKeyOf } from '../core/keys.ts'
import type { NetworkParams } from '../core/params.ts'
import { OutPoint, outpointKey } from '../core/outpoint.ts'
import { MAX_TX_BYTES, signTransaction, Tx, TX_VERSION, type TransactionData } from '../core/tx.ts'
import type { Chain } from '../chain/chain.ts'
import type { BlockEntry, MempoolEntry } from '../chain/types.ts'
import type { Logger } from '../log.ts'
import { SerialQueue } from '../util/serial-queue.ts'
import { selectCoins } from './coin-select.ts'
import { WalletError } from './errors.ts'
import { accountKey, AddressDeriver, Branch, checkMnemonic, newMnemonic, privateKeyOf, type DerivedAddress } from './hd.ts'
import { DEFAULT_KDF, decryptSecret, encryptSecret, readWalletFile, writeWalletFile, type KdfParams, type WalletFile } from './keystore.ts'

export const WALLET_FILE = 'wallet.json'
/** Change below this many base units is left to the fee. */
const DUST = 1_000n
/** Longest unlock: a day. */
const MAX_UNLOCK_SECONDS = 86_400

export interface WalletComponents {
  chain: Chain
  logger: Logger
}

export interface WalletInit {
  datadir: string
  params: NetworkParams
  /** Consecutive unused addresses watched past the last used one, per branch. */
  gapLimit?: number
  defaultFeeRate: number
  kdf?: KdfParams
}

interface WalletTx {
  tx: Tx
  /** null while unconfirmed (in the mempool). */
  height: number | null
  time: number
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

/**
 * An HD wallet (BIP39 mnemonic, BIP32 keys) over the node's chain. Its coins and
 * history are derived from the chain, by a rescan from the wallet's birth height
 * at start and by following connected and disconnected blocks and the mempool,
 * so a reorganisation makes a transaction unconfirmed again. Only the seed
 * (encrypted) and address indexes live in its file.
 */
export class Wallet {
  readonly #c: WalletComponents
  readonly #init: WalletInit
  readonly #path: string
  readonly #gap: number
  #file: WalletFile | undefined
  #deriver: AddressDeriver | undefined
  /** Watched addresses by hex of their hash. */
  readonly #watched = new Map<string, DerivedAddress>()
  readonly #watchedUpTo = [0, 0]
  readonly #txs = new Map<string, WalletTx>()
  #unlocked: { account: HDKey, until: number, timer: NodeJS.Timeout } | undefined
  #scanning: { height: number, tip: number } | undefined
  #listening = false
  /** The wallet file's writes, one at a time. */
  readonly #writes = new SerialQueue()
  /** Sends, one at a time: a second must not select coins the first is spending. */
  readonly #sends = new SerialQueue()

  constructor (components: WalletComponents, init: WalletInit) {
    this.#c = components
    this.#init = init
    this.#path = join(init.datadir, WALLET_FILE)
    this.#gap = init.gapLimit ?? 20
  }

  get exists (): boolean { return this.#file !== undefined }
  get tipHeight (): number { return this.#c.chain.height }

  async start (): Promise<void> {
    const file = await readWalletFile(this.#path)
    if (file === undefined) return
    if (file.network !== this.#init.params.name) throw new WalletError('WRONG_NETWORK', `${this.#path} is a ${file.network} wallet, this node runs ${this.#init.params.name}`)
    this.#load(file)
    await this.#rescan(file.birthHeight)
  }

  stop (): void {
    this.lock()
    if (this.#listening) {
      const { chain } = this.#c
      chain.off('block:connected', this.#onConnected)
      chain.off('block:disconnected', this.#onDisconnected)
      chain.off('tx:accepted', this.#onAccepted)
      chain.off('tx:removed', this.#onRemoved)
      this.#listening = false
    }
  }

  /** Makes a new wallet; returns its mnemonic (the only backup of its keys). */
  async create (passphrase: string): Promise<string> {
    const mnemonic = newMnemonic()
    await this.#make(mnemonic, passphrase, this.#c.chain.height)
    return mnemonic
  }

  /** Recreates a wallet from its mnemonic and finds its coins by a rescan of the whole chain. */
  async restore (mnemonic: string, passphrase: string): Promise<void> {
    await this.#make(checkMnemonic(mnemonic), passphrase, 0)
  }

  async #make (mnemonic: string, passphrase: unknown, birthHeight: number): Promise<void> {
    if (this.#file !== undefined) throw new WalletError('WALLET_EXISTS', `this node already has a wallet (${this.#path})`)
    if (typeof passphrase !== 'string' || passphrase.length === 0) throw new WalletError('BAD_PASSPHRASE', 'a wallet needs a non-empty passphrase')
    const file: WalletFile = {
      version: 1,
      network: this.#init.params.name,
      birthHeight,
      xpub: accountKey(mnemonic, this.#init.params).publicExtendedKey,
      receiveIndex: 0,
      changeIndex: 0,
      ...await encryptSecret(mnemonic, passphrase, this.#init.kdf ?? DEFAULT_KDF)
    }
    await writeWalletFile(this.#path, file)
    this.#load(file)
    await this.#rescan(birthHeight)
  }

  #load (file: WalletFile): void {
    try {
      this.#deriver = new AddressDeriver(file.xpub, this.#init.params)
    } catch (err) {
      throw new WalletError('CORRUPT_WALLET_FILE', `${this.#path} holds no valid extended public key (${(err as Error).message}): restore the wallet from its mnemonic`)
    }
    this.#file = file
    this.#watchUpTo(Branch.RECEIVE, file.receiveIndex + this.#gap)
    this.#watchUpTo(Branch.CHANGE, file.changeIndex + this.#gap)
    if (!this.#listening) {
      const { chain } = this.#c
      chain.on('block:connected', this.#onConnected)
      chain.on('block:disconnected', this.#onDisconnected)
      chain.on('tx:accepted', this.#onAccepted)
      chain.on('tx:removed', this.#onRemoved)
      this.#listening = true
    }
  }

  #watchUpTo (branch: Branch, count: number): void {
    const deriver = this.#deriver as AddressDeriver
    for (let i = this.#watchedUpTo[branch]; i < count; i++) {
      const a = deriver.derive(branch, i)
      this.#watched.set(toHex(a.hash), a)
    }
    this.#watchedUpTo[branch] = Math.max(this.#watchedUpTo[branch], count)
  }

  #requireFile (): WalletFile {
    if (this.#file === undefined) throw new WalletError('NO_WALLET', 'this node has no wallet: create one (coints wallet create) or restore one')
    return this.#file
  }

  /** Reads every best-chain block from `from` up, as blocks connected now. */
  async #rescan (from: number): Promise<void> {
    const { chain } = this.#c
    this.#txs.clear()
    // Stopping (the listeners gone) ends the scan: the node must not wait for a long one.
    for (let h = from; h <= chain.height && this.#listening; h++) {
      this.#scanning = { height: h, tip: chain.height }
      const entry = chain.getEntryAt(h)
      const block = entry === undefined ? undefined : await chain.getBlock(entry.id)
      // The chain may have reorganised while the block was read: scan the height again.
      if (chain.getEntryAt(h) !== entry) {
        h--
        continue
      }
      if (block !== undefined && entry !== undefined) this.#applyBlock(block, entry)
      if (h % 1_000 === 0 && h > from) this.#c.logger.info(`wallet rescan at ${h} of ${chain.height}`)
    }
    for (const entry of chain.mempool.entries()) this.#onAccepted(entry)
    this.#scanning = undefined
  }

  /** Whether a transaction pays one of our addresses or spends one of our coins. */
  #touches (tx: Tx): boolean {
    if (tx.data.outputs.some(o => this.#watched.has(toHex(o.address)))) return true
    return tx.inputKeys().some(key => this.#ownCoin(key) !== undefined)
  }

  #ownCoin (key: string): { amount: bigint, owner: DerivedAddress } | undefined {
    const sep = key.lastIndexOf(':')
    const out = this.#txs.get(key.slice(0, sep))?.tx.data.outputs[Number(key.slice(sep + 1))]
    const owner = out === undefined ? undefined : this.#watched.get(toHex(out.address))
    return out === undefined || owner === undefined ? undefined : { amount: out.amount, owner }
  }

  #record (tx: Tx, height: number | null, time: number): void {
    this.#txs.set(tx.idString, { tx, height, time })
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

  /**
   * Writes the wallet file. Writes run one at a time, each of the state when it
   * starts, so an older state can never be written over a newer one.
   */
  async #save (): Promise<void> {
    await this.#writes.run(async () => { if (this.#file !== undefined) await writeWalletFile(this.#path, this.#file) })
  }

  /** For saves after the fact (a transaction already sent or seen): failing is logged, not thrown. */
  async #saveOrLog (): Promise<void> {
    await this.#save().catch(err => { this.#c.logger.error(`saving the wallet failed: ${(err as Error).message}`) })
  }

  #applyBlock (block: Block, entry: BlockEntry): void {
    for (const tx of block.txs) if (this.#touches(tx)) this.#record(tx, entry.height, entry.time)
  }

  readonly #onConnected = (block: Block, entry: BlockEntry): void => { this.#applyBlock(block, entry) }

  readonly #onDisconnected = (block: Block): void => {
    for (const tx of block.txs) {
      const wtx = this.#txs.get(tx.idString)
      if (wtx === undefined) continue
      // Unconfirmed again: back in the mempool (tx:accepted) or gone (tx:removed). A coinbase is gone.
      if (tx.isCoinbase) this.#txs.delete(tx.idString)
      else wtx.height = null
    }
  }

  readonly #onAccepted = (entry: MempoolEntry): void => {
    const known = this.#txs.get(entry.tx.idString)
    if (known === undefined && this.#touches(entry.tx)) this.#record(entry.tx, null, entry.time)
  }

  readonly #onRemoved = (txs: Tx[]): void => {
    for (const tx of txs) {
      if (this.#txs.get(tx.idString)?.height === null && !this.#c.chain.mempool.has(tx.idString)) this.#txs.delete(tx.idString)
    }
  }

  /** Our unspent outputs, confirmed or not, minus those our own pending transactions spend. */
  coins (): WalletCoin[] {
    this.#requireFile()
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

  balance (): Balance {
    const b: Balance = { confirmed: 0n, unconfirmed: 0n, immature: 0n }
    for (const coin of this.coins()) b[coin.state] += coin.amount
    return b
  }

  info (): Record<string, unknown> {
    const file = this.#file
    return {
      exists: file !== undefined,
      network: this.#init.params.name,
      locked: this.#unlocked === undefined,
      unlocked_until: this.#unlocked === undefined ? 0 : Math.floor(this.#unlocked.until / 1000),
      receive_index: file?.receiveIndex ?? 0,
      change_index: file?.changeIndex ?? 0,
      birth_height: file?.birthHeight ?? null,
      txcount: this.#txs.size,
      scanning: this.#scanning ?? false
    }
  }

  /** A fresh receiving address (the index moves on, and is saved, at once). */
  async newAddress (branch: Branch = Branch.RECEIVE): Promise<DerivedAddress> {
    const file = this.#requireFile()
    const field = branch === Branch.RECEIVE ? 'receiveIndex' : 'changeIndex'
    const address = (this.#deriver as AddressDeriver).derive(branch, file[field])
    file[field]++
    this.#watchUpTo(branch, file[field] + this.#gap)
    await this.#save()
    return address
  }

  async unlock (passphrase: string, seconds: number): Promise<void> {
    const file = this.#requireFile()
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_UNLOCK_SECONDS) throw new WalletError('BAD_PASSPHRASE', `unlock for 1 to ${MAX_UNLOCK_SECONDS} seconds`)
    const mnemonic = await decryptSecret(file, passphrase)
    this.lock()
    const timer = setTimeout(() => { this.lock() }, seconds * 1000)
    timer.unref()
    this.#unlocked = { account: accountKey(mnemonic, this.#init.params), until: Date.now() + seconds * 1000, timer }
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
    if (this.#scanning !== undefined) throw new WalletError('RESCANNING', 'the wallet is rescanning the chain; try again when it is done')
    let to: Uint8Array
    try {
      to = decodeAddress(this.#init.params.addressPrefix, address)
    } catch (err) {
      throw new WalletError('BAD_ADDRESS', (err as DecodeError).message.replace(/^BAD_ADDRESS: /, ''))
    }
    if (amount <= 0n || amount > MAX_MONEY) throw new WalletError('BAD_AMOUNT', `cannot send ${formatAmount(amount)}`)
    if (!Number.isFinite(feeRate) || feeRate < this.#c.chain.mempool.minFeeRate || feeRate > 1_000_000) {
      throw new WalletError('BAD_FEE_RATE', `fee rate must be ${this.#c.chain.mempool.minFeeRate} to 1000000 base units per byte`)
    }
    return await this.#sends.run(async () => {
      const unlocked = this.#unlocked
      if (unlocked === undefined) throw new WalletError('WALLET_LOCKED', 'the wallet is locked: unlock it with walletpassphrase first')
      const spendable = this.coins().filter(c => c.state === 'confirmed' || (c.state === 'unconfirmed' && c.tx.inputKeys().every(k => this.#ownCoin(k) !== undefined)))
      const changeAddress = (this.#deriver as AddressDeriver).derive(Branch.CHANGE, file.changeIndex)
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
      const { inputs, change } = selectCoins(spendable, amount, draftBytes, { feeRate, dust: DUST, maxBytes: MAX_TX_BYTES })
      const data = build(inputs, change > 0n ? change : undefined)
      const tx = signTransaction(data, inputs.map(c => keyOf(c).privateKey), this.#c.chain.chainTag)
      await this.#c.chain.acceptTx(tx)
      if (change > 0n) {
        // Seeing the transaction may have moved the index past this address already.
        file.changeIndex = Math.max(file.changeIndex, changeAddress.index + 1)
        this.#watchUpTo(Branch.CHANGE, file.changeIndex + this.#gap)
        await this.#saveOrLog()
      }
      return tx.idString
    })
  }

  /** History, newest first: net amount to the wallet, fee when it paid one, and confirmations. */
  transactions (): Array<Record<string, unknown>> {
    this.#requireFile()
    const tip = this.#c.chain.height
    const rows = [...this.#txs.values()].map(({ tx, height, time }) => {
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
      const confirmations = height === null ? 0 : tip - height + 1
      const category = tx.isCoinbase
        ? (confirmations < this.#init.params.coinbaseMaturity ? 'immature' : 'generate')
        : net >= 0n ? 'receive' : 'send'
      return {
        txid: tx.idString,
        category,
        amount: formatAmount(net),
        fee: allOurs ? formatAmount(sent - outputs) : null,
        confirmations,
        height,
        time
      }
    })
    return rows.sort((a, b) => (b.height ?? Infinity) - (a.height ?? Infinity) || b.time - a.time)
  }
}
