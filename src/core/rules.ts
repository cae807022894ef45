/**
 * Consensus rules in btcd's stages: sanity (the object alone), context (its place
 * in the chain) and connect (against the UTXO set). Pure functions, no I/O:
 * the chain layer fetches what they need and applies what they return.
 */
import { isMoneyRange } from './amount.ts'
import { type Block, BLOCK_VERSION, type Header } from './block.ts'
import { cidOf } from './cbor.ts'
import { BlockError, TxError } from './errors.ts'
import { equalBytes } from './hash.ts'
import { type NetworkParams, subsidyAt } from './params.ts'
import { bitsToTarget, isNegativeBits } from './pow.ts'
import { outpointKey } from './outpoint.ts'
import { MAX_TX_BYTES, type Tx, TX_VERSION } from './tx.ts'

/** An unspent output as the UTXO set holds it. */
export interface Coin {
  amount: bigint
  address: Uint8Array
  /** Height of the block that created it (for an unconfirmed one: the next block's). */
  height: number
  coinbase: boolean
}

/** One signature to verify; a transaction's inputs share its sighash. */
export interface SigCheck {
  /** The transaction it belongs to: signatures are cached per transaction id, which commits to them. */
  txid: string
  msg: Uint8Array
  pubkey: Uint8Array
  sig: Uint8Array
}

/** Transactions that passed checkTxSanity: a Tx never changes, so a block reusing the mempool's skips it. */
const sane = new WeakSet<Tx>()

export function checkTxSanity (tx: Tx): void {
  if (sane.has(tx)) return
  const { data } = tx
  if (data.version !== TX_VERSION) throw new TxError('BAD_VERSION', `transaction version ${data.version}`)
  if (tx.bytes.length > MAX_TX_BYTES) throw new TxError('TOO_LARGE', `${tx.bytes.length} bytes`)
  if (tx.isCoinbase) {
    if (data.inputs.length !== 0) throw new TxError('NO_INPUTS', 'a coinbase has no inputs')
  } else if (data.inputs.length === 0) {
    throw new TxError('NO_INPUTS', 'transaction has no inputs')
  }
  if (data.outputs.length === 0) throw new TxError('NO_OUTPUTS', 'transaction has no outputs')
  let total = 0n
  for (const out of data.outputs) {
    // A coinbase may pay zero: once the subsidy has ended, a block without fees still needs one.
    const least = tx.isCoinbase ? 0n : 1n
    if (out.amount < least || !isMoneyRange(out.amount)) throw new TxError('BAD_AMOUNT', `output amount ${out.amount}`)
    total += out.amount
    if (!isMoneyRange(total)) throw new TxError('BAD_AMOUNT', 'outputs exceed the money supply')
  }
  const duplicate = firstDuplicate(tx.inputKeys())
  if (duplicate !== undefined) throw new TxError('DUPLICATE_INPUT', duplicate)
  sane.add(tx)
}

/** Inputs compared pairwise while they are few (most transactions): no Set per transaction. */
const PAIRWISE_MAX = 8

function firstDuplicate (keys: readonly string[]): string | undefined {
  if (keys.length <= PAIRWISE_MAX) {
    for (let i = 1; i < keys.length; i++) for (let j = 0; j < i; j++) if (keys[i] === keys[j]) return keys[i]
    return undefined
  }
  const seen = new Set<string>()
  for (const key of keys) {
    if (seen.has(key)) return key
    seen.add(key)
  }
  return undefined
}

/**
 * The signatures a transaction carries, to verify. They depend on the transaction
 * alone, so callers verify them off the event loop while the UTXO checks run.
 */
export function sigChecksOf (tx: Tx, chainTag: Uint8Array): SigCheck[] {
  if (tx.isCoinbase) return []
  const msg = tx.sighash(chainTag)
  return tx.data.inputs.map(input => ({ txid: tx.idString, msg, pubkey: input.pubkey, sig: input.sig }))
}

/**
 * Checks a transaction's inputs against the coins it spends (found by `coinOf`):
 * each exists, is mature and belongs to the input's key. Returns the fee and the
 * coins spent. Signatures are checked apart (sigChecksOf).
 */
export function checkTxInputs (tx: Tx, coinOf: (key: string) => Coin | undefined, spendHeight: number, params: NetworkParams): { fee: bigint, spent: Array<[string, Coin]> } {
  let total = 0n
  const spent: Array<[string, Coin]> = []
  const addresses = tx.inputAddresses()
  const keys = tx.inputKeys()
  for (let n = 0; n < keys.length; n++) {
    const key = keys[n]
    const coin = coinOf(key)
    if (coin === undefined) throw new TxError('MISSING_INPUT', key)
    if (coin.coinbase && spendHeight - coin.height < params.coinbaseMaturity) {
      throw new TxError('IMMATURE_SPEND', `${key} matures at height ${coin.height + params.coinbaseMaturity}`)
    }
    if (!equalBytes(addresses[n], coin.address)) throw new TxError('WRONG_KEY', `${key} belongs to another key`)
    total += coin.amount
    if (!isMoneyRange(total)) throw new TxError('BAD_AMOUNT', 'inputs exceed the money supply')
    spent.push([key, coin])
  }
  let out = 0n
  for (const o of tx.data.outputs) out += o.amount
  if (total < out) throw new TxError('INSUFFICIENT_INPUTS', `inputs ${total} < outputs ${out}`)
  return { fee: total - out, spent }
}

/** A header's proof of work: its target within the network's limit, its hash at most the target (what sync checks of headers alone). */
export function checkProofOfWork (header: Header, params: NetworkParams): void {
  const { bits } = header.data
  // A negative target, which bitsToTarget refuses with no block error's code, fails the rule below.
  const target = isNegativeBits(bits) ? -1n : bitsToTarget(bits)
  if (target > bitsToTarget(params.powLimitBits) || target <= 0n) throw new BlockError('TARGET_ABOVE_LIMIT', `bits ${bits.toString(16)}`)
  if (header.powHash > target) throw new BlockError('BAD_POW', 'hash above target')
}

export function checkBlockSanity (block: Block, params: NetworkParams, now: number): void {
  const h = block.header.data
  if (h.version !== BLOCK_VERSION) throw new BlockError('BAD_VERSION', `block version ${h.version}`)
  checkProofOfWork(block.header, params)
  if (h.time > now + params.maxFutureBlockTime) throw new BlockError('TIME_TOO_NEW', `time ${h.time} is more than ${params.maxFutureBlockTime}s ahead`)
  if (block.size > params.maxBlockBytes) throw new BlockError('TOO_LARGE', `${block.size} bytes`)
  const { txs } = block
  const coinbase = txs[0]
  if (coinbase === undefined || !coinbase.isCoinbase) throw new BlockError('NO_COINBASE')
  if (coinbase.data.height !== h.height) throw new BlockError('BAD_COINBASE_HEIGHT', `coinbase says ${coinbase.data.height}, header ${h.height}`)
  for (let n = 1; n < txs.length; n++) if (txs[n].isCoinbase) throw new BlockError('EXTRA_COINBASE')
  if (!cidOf(block.txList).equals(h.txs)) throw new BlockError('BAD_TX_ROOT')
  const ids = new Set<string>()
  for (let n = 0; n < txs.length; n++) {
    const tx = txs[n]
    if (ids.has(tx.idString)) throw new BlockError('DUPLICATE_TX', tx.idString)
    ids.add(tx.idString)
    try {
      checkTxSanity(tx)
    } catch (err) {
      if (err instanceof TxError) throw new BlockError('BAD_TX', `${tx.idString}: ${err.message}`, err)
      throw err
    }
  }
}

/** What a block's place in the chain fixes: its height, its target and the least time it may claim. */
export interface BlockContext {
  parentHeight: number
  expectedBits: number
  medianTimePast: number
}

export function checkBlockContext (block: Block, ctx: BlockContext): void {
  const h = block.header.data
  if (h.height !== ctx.parentHeight + 1) throw new BlockError('BAD_HEIGHT', `height ${h.height} after ${ctx.parentHeight}`)
  if (h.bits !== ctx.expectedBits) throw new BlockError('BAD_DIFFICULTY', `bits ${h.bits.toString(16)}, expected ${ctx.expectedBits.toString(16)}`)
  if (h.time <= ctx.medianTimePast) throw new BlockError('TIME_TOO_OLD', `time ${h.time} not above median time past ${ctx.medianTimePast}`)
}

/** Median of the given timestamps (the last medianTimeSpan blocks'). */
export function medianTime (times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** The coins a transaction's outputs become in a block at `height`, by outpoint key. */
export function coinsOf (tx: Tx, height: number): Array<[string, Coin]> {
  return tx.data.outputs.map((out, index) => [outpointKey(tx.idString, index), { amount: out.amount, address: out.address, height, coinbase: tx.isCoinbase }])
}

export interface ConnectResult {
  fees: bigint
  /** Coins this block spent, in order: the undo data that restores them on disconnect. */
  spent: Array<[string, Coin]>
  created: Array<[string, Coin]>
}

/**
 * Applies a block's transactions to `coins` (a map holding at least every coin the
 * block spends that exists), in order, so a transaction may spend an output of an
 * earlier one in the same block. Mutates `coins`; throws BlockError on any rule
 * broken but signatures (sigChecksOf).
 */
export function connectBlockTxs (block: Block, coins: Map<string, Coin>, params: NetworkParams): ConnectResult {
  const height = block.height
  const result: ConnectResult = { fees: 0n, spent: [], created: [] }
  const coinOf = (key: string): Coin | undefined => coins.get(key)
  const { txs } = block
  // Indexed loops, no destructuring: in a loop run once a block, V8 makes an iterator object per element of those.
  for (let t = 0; t < txs.length; t++) {
    const tx = txs[t]
    if (!tx.isCoinbase) {
      let checked
      try {
        checked = checkTxInputs(tx, coinOf, height, params)
      } catch (err) {
        if (err instanceof TxError) {
          const doubleSpend = err.code === 'MISSING_INPUT' && tx.inputKeys().some(key => result.spent.some(([spent]) => spent === key))
          if (doubleSpend) throw new BlockError('DOUBLE_SPEND', `${tx.idString} spends an output spent earlier in the block`, err)
          throw new BlockError('BAD_TX', `${tx.idString}: ${err.message}`, err)
        }
        throw err
      }
      const { spent } = checked
      for (let n = 0; n < spent.length; n++) {
        coins.delete(spent[n][0])
        result.spent.push(spent[n])
      }
      result.fees += checked.fee
    }
    const created = coinsOf(tx, height)
    for (let n = 0; n < created.length; n++) {
      coins.set(created[n][0], created[n][1])
      result.created.push(created[n])
    }
  }
  let coinbaseValue = 0n
  for (const out of block.txs[0].data.outputs) coinbaseValue += out.amount
  const allowed = subsidyAt(params, height) + result.fees
  if (coinbaseValue > allowed) throw new BlockError('BAD_COINBASE_VALUE', `coinbase pays ${coinbaseValue}, allowed ${allowed}`)
  return result
}
