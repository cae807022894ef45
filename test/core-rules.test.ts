import { test } from 'node:test'
import assert from 'node:assert/strict'
import { COIN, MAX_MONEY } from '../src/core/amount.ts'
import { Block, BLOCK_VERSION, encodeTxList, Header, NONCE_BYTES, type HeaderData } from '../src/core/block.ts'
import { randomBytes } from 'node:crypto'
import { base32 as base32Multibase, base32upper } from 'multiformats/bases/base32'
import { base32, cidOf, cidOfDigest, cidStringOfDigest, encodeCbor } from '../src/core/cbor.ts'
import { BlockError, DecodeError, TxError } from '../src/core/errors.ts'
import { genesisBlock, getNetwork, subsidyAt, type NetworkParams } from '../src/core/params.ts'
import { bitsToTarget, expectedBits, targetToBits, workOf } from '../src/core/pow.ts'
import { checkBlockContext, checkBlockSanity, checkTxInputs, checkTxSanity, connectBlockTxs, medianTime, type Coin } from '../src/core/rules.ts'
import { OutPoint, outpointKey, outpointKeyOfDigest } from '../src/core/outpoint.ts'
import { Tx, TX_VERSION, type TransactionData } from '../src/core/tx.ts'
import { newKey, outputOf, spendTx } from './helpers/chain-harness.ts'
import { solveBlock } from '../src/miner/solve.ts'

const params = getNetwork('regtest')
const tag = { chainTag: genesisBlock(params).id.bytes }
const key = newKey()
const NOW = params.genesisTime + 1_000

function coinbase (height: number, amount = subsidyAt(params, height)): Tx {
  return Tx.create({ version: TX_VERSION, height, inputs: [], outputs: [{ amount, address: key.addressHash }] })
}

function headerFor (txs: Tx[], over: Partial<HeaderData> = {}): HeaderData {
  return { version: BLOCK_VERSION, height: 1, prev: genesisBlock(params).id, txs: cidOf(encodeTxList(txs)), time: NOW, bits: params.powLimitBits, nonce: new Uint8Array(NONCE_BYTES), ...over }
}

function block (txs: Tx[], over: Partial<HeaderData> = {}): Block {
  return solveBlock({ header: headerFor(txs, over), txs })
}

function throwsCode (fn: () => unknown, cls: new (...args: never[]) => Error, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`)
    assert.equal((err as unknown as { code: string }).code, code)
    return true
  })
}

/** A coin of `key` at a height, with the outpoint key of a made-up funding transaction. */
function fundedSpend (amount: bigint, opts: { coinbase?: boolean, height?: number, outputs?: bigint[] } = {}): { tx: Tx, coins: Map<string, Coin> } {
  const funding = Tx.create({ version: TX_VERSION, inputs: [{ prev: OutPoint.of(genesisBlock(params).txs[0].id, 0), pubkey: key.publicKey, sig: new Uint8Array(64) }], outputs: [{ amount, address: key.addressHash }] })
  const tx = spendTx(tag, [outputOf(funding)], key, { outputs: (opts.outputs ?? [amount - 1_000n]).map(a => ({ amount: a, address: key.addressHash })) })
  const coins = new Map<string, Coin>([[outpointKey(funding.idString, 0), { amount, address: key.addressHash, height: opts.height ?? 1, coinbase: opts.coinbase ?? false }]])
  return { tx, coins }
}

test('encoding: ids are CIDv1 dag-cbor sha2-256; objects round-trip; headers link parent and transactions by CID', () => {
  const cb = coinbase(1)
  const b = block([cb])
  assert.match(b.idString, /^bafyrei[a-z2-7]+$/)
  assert.equal(Block.decode(b.encode()).idString, b.idString)
  // A header already decoded (sync's) is reused for the same bytes only.
  assert.equal(Block.decode(b.encode(), undefined, b.header).header, b.header)
  const other = block([coinbase(1, 1n)])
  assert.equal(Block.decode(b.encode(), undefined, other.header).idString, b.idString)
  assert.equal(Tx.fromBytes(cb.bytes).idString, cb.idString)
  assert.ok(b.header.data.prev?.equals(genesisBlock(params).id))
  assert.ok(b.header.data.txs.equals(cidOf(encodeTxList([cb]))))
  for (const count of [1, 23, 24, 255, 256, 300]) {
    const txs = Array.from({ length: count }, (_, i) => coinbase(i + 1))
    assert.deepEqual(encodeTxList(txs), encodeCbor(txs.map(tx => tx.id)), `a list of ${count} encodes as DAG-CBOR does`)
  }
  assert.equal(cidStringOfDigest(b.id.multihash.digest), b.idString)
  for (let i = 0; i < 200; i++) {
    const digest = new Uint8Array(randomBytes(32))
    assert.equal(cidStringOfDigest(digest), cidOfDigest(digest).toString())
    assert.equal(outpointKeyOfDigest(digest, i * 997), outpointKey(cidOfDigest(digest).toString(), i * 997))
  }
  // Every length, against multiformats' encoders (the tail of under 5 bytes included).
  for (let length = 0; length <= 40; length++) {
    const bytes = new Uint8Array(randomBytes(length))
    assert.equal(base32(bytes), base32Multibase.baseEncode(bytes))
    assert.equal(base32(bytes, '/B', true), '/B' + base32upper.baseEncode(bytes))
  }
})

test('decoding rejects malformed, non-canonical, mistyped and oversized data with DecodeError codes', () => {
  throwsCode(() => Tx.fromBytes(Uint8Array.from([0xa1, 0x61])), DecodeError, 'MALFORMED_CBOR')
  // A non-minimal integer (version 1 as a 1-byte-follows uint) is not the canonical encoding.
  const canonical = coinbase(1).bytes
  const at = Buffer.from(canonical).indexOf(Buffer.from([0x67, ...Buffer.from('version'), 0x01]))
  const nonMinimal = Uint8Array.from([...canonical.subarray(0, at + 8), 0x18, 0x01, ...canonical.subarray(at + 9)])
  assert.throws(() => Tx.fromBytes(nonMinimal), DecodeError)
  // Keys out of canonical order: same content, another encoding.
  const reordered = Uint8Array.from([0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02])
  assert.equal(Buffer.from(encodeCbor({ b: 1, a: 2 })).equals(Buffer.from(reordered)), false)
  throwsCode(() => Tx.fromBytes(encodeCbor({ version: 1, inputs: [], outputs: 'x' })), DecodeError, 'BAD_FIELD')
  throwsCode(() => Tx.fromBytes(encodeCbor({ version: 1, inputs: [], outputs: [], extra: 1 })), DecodeError, 'BAD_FIELD')
  throwsCode(() => Tx.fromBytes(new Uint8Array(200_000)), DecodeError, 'TOO_LARGE')
  throwsCode(() => Header.fromBytes(encodeCbor({ ...headerFor([coinbase(1)]), nonce: new Uint8Array(7) })), DecodeError, 'BAD_FIELD')
  throwsCode(() => Header.fromBytes(reordered), DecodeError, 'NON_CANONICAL')
})

test('transaction sanity: version, inputs, outputs, amounts, duplicate inputs', () => {
  const { tx } = fundedSpend(10n * COIN)
  checkTxSanity(tx)
  const mutate = (change: (d: TransactionData) => TransactionData): Tx => Tx.create(change({ ...tx.data }))
  throwsCode(() => checkTxSanity(mutate(d => ({ ...d, version: 2 }))), TxError, 'BAD_VERSION')
  throwsCode(() => checkTxSanity(mutate(d => ({ ...d, inputs: [] }))), TxError, 'NO_INPUTS')
  throwsCode(() => checkTxSanity(mutate(d => ({ ...d, outputs: [] }))), TxError, 'NO_OUTPUTS')
  for (const amount of [0n, -1n, MAX_MONEY + 1n]) {
    throwsCode(() => checkTxSanity(mutate(d => ({ ...d, outputs: [{ amount, address: key.addressHash }] }))), TxError, 'BAD_AMOUNT')
  }
  checkTxSanity(mutate(d => ({ ...d, outputs: [{ amount: MAX_MONEY, address: key.addressHash }] })))
  throwsCode(() => checkTxSanity(mutate(d => ({ ...d, outputs: [{ amount: MAX_MONEY, address: key.addressHash }, { amount: 1n, address: key.addressHash }] }))), TxError, 'BAD_AMOUNT')
  throwsCode(() => checkTxSanity(mutate(d => ({ ...d, inputs: [d.inputs[0], d.inputs[0]] }))), TxError, 'DUPLICATE_INPUT')
  // Many inputs (checked with a Set rather than pairwise): distinct ones pass, one repeat fails.
  const many = (indexes: number[]): Tx => mutate(d => ({ ...d, inputs: indexes.map(index => ({ ...d.inputs[0], prev: OutPoint.of(d.inputs[0].prev.txid, index) })) }))
  checkTxSanity(many([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
  throwsCode(() => checkTxSanity(many([0, 1, 2, 3, 4, 5, 6, 7, 8, 3])), TxError, 'DUPLICATE_INPUT')
  throwsCode(() => checkTxSanity(Tx.create({ ...coinbase(1).data, inputs: tx.data.inputs })), TxError, 'NO_INPUTS')
  // After the last halving a coinbase without fees pays zero; other outputs never may.
  checkTxSanity(coinbase(1, 0n))
  throwsCode(() => checkTxSanity(coinbase(1, -1n)), TxError, 'BAD_AMOUNT')
})

test('transaction inputs: existence, maturity, key, value; the fee is what is left', () => {
  const { tx, coins } = fundedSpend(10n * COIN)
  assert.equal(checkTxInputs(tx, k => coins.get(k), 2, params).fee, 1_000n)
  throwsCode(() => checkTxInputs(tx, () => undefined, 2, params), TxError, 'MISSING_INPUT')
  const cb = fundedSpend(10n * COIN, { coinbase: true, height: 5 })
  throwsCode(() => checkTxInputs(cb.tx, k => cb.coins.get(k), 5 + params.coinbaseMaturity - 1, params), TxError, 'IMMATURE_SPEND')
  checkTxInputs(cb.tx, k => cb.coins.get(k), 5 + params.coinbaseMaturity, params)
  const other = newKey()
  throwsCode(() => checkTxInputs(tx, k => ({ ...coins.get(k) as Coin, address: other.addressHash }), 2, params), TxError, 'WRONG_KEY')
  const over = fundedSpend(10n * COIN, { outputs: [10n * COIN + 1n] })
  throwsCode(() => checkTxInputs(over.tx, k => over.coins.get(k), 2, params), TxError, 'INSUFFICIENT_INPUTS')
})

test('block sanity: each rule passes at its limit and fails past it', () => {
  const cb = coinbase(1)
  checkBlockSanity(block([cb]), params, NOW)
  throwsCode(() => checkBlockSanity(block([cb], { version: 2 }), params, NOW), BlockError, 'BAD_VERSION')
  // A nonce whose hash misses the target.
  let unsolved = Header.create(headerFor([cb]))
  for (let i = 0; unsolved.powHash <= bitsToTarget(params.powLimitBits); i++) unsolved = Header.create({ ...headerFor([cb]), nonce: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, i]) })
  throwsCode(() => checkBlockSanity(new Block(unsolved, [cb]), params, NOW), BlockError, 'BAD_POW')
  throwsCode(() => checkBlockSanity(block([cb], { bits: targetToBits(bitsToTarget(params.powLimitBits) * 2n) }), params, NOW), BlockError, 'TARGET_ABOVE_LIMIT')
  // Bits with the sign bit set (a negative target): a block error, not the codec's.
  throwsCode(() => checkBlockSanity(new Block(Header.create(headerFor([cb], { bits: 0x2080_0001 })), [cb]), params, NOW), BlockError, 'TARGET_ABOVE_LIMIT')
  checkBlockSanity(block([cb], { time: NOW + params.maxFutureBlockTime }), params, NOW)
  throwsCode(() => checkBlockSanity(block([cb], { time: NOW + params.maxFutureBlockTime + 1 }), params, NOW), BlockError, 'TIME_TOO_NEW')
  const small: NetworkParams = { ...params, maxBlockBytes: block([cb]).size }
  checkBlockSanity(block([cb]), small, NOW)
  throwsCode(() => checkBlockSanity(block([cb]), { ...small, maxBlockBytes: small.maxBlockBytes - 1 }, NOW), BlockError, 'TOO_LARGE')
  const { tx } = fundedSpend(COIN)
  throwsCode(() => checkBlockSanity(block([tx]), params, NOW), BlockError, 'NO_COINBASE')
  throwsCode(() => checkBlockSanity(block([cb, coinbase(1, 1n)]), params, NOW), BlockError, 'EXTRA_COINBASE')
  throwsCode(() => checkBlockSanity(block([coinbase(2)]), params, NOW), BlockError, 'BAD_COINBASE_HEIGHT')
  throwsCode(() => checkBlockSanity(solveBlock({ header: headerFor([cb]), txs: [cb, tx] }), params, NOW), BlockError, 'BAD_TX_ROOT')
  throwsCode(() => checkBlockSanity(block([cb, tx, tx]), params, NOW), BlockError, 'DUPLICATE_TX')
  const badTx = Tx.create({ ...tx.data, outputs: [] })
  assert.throws(() => checkBlockSanity(block([cb, badTx]), params, NOW), (err: unknown) => err instanceof BlockError && err.code === 'BAD_TX' && err.cause?.code === 'NO_OUTPUTS')
})

test('block context: height, claimed difficulty and median time past', () => {
  const b = block([coinbase(1)], { time: 1_000 })
  const ctx = { parentHeight: 0, expectedBits: params.powLimitBits, medianTimePast: 999 }
  checkBlockContext(b, ctx)
  throwsCode(() => checkBlockContext(b, { ...ctx, parentHeight: 1 }), BlockError, 'BAD_HEIGHT')
  throwsCode(() => checkBlockContext(b, { ...ctx, expectedBits: 0x1d00ffff }), BlockError, 'BAD_DIFFICULTY')
  throwsCode(() => checkBlockContext(b, { ...ctx, medianTimePast: 1_000 }), BlockError, 'TIME_TOO_OLD')
  assert.equal(medianTime([5, 1, 9, 3, 7]), 5)
})

test('connect: double spends, spends within a block, and the coinbase value', () => {
  const { tx, coins } = fundedSpend(10n * COIN)
  const child = spendTx(tag, [outputOf(tx)], key, { fee: 1_000n })
  const fees = 2_000n
  const ok = block([coinbase(1, subsidyAt(params, 1) + fees), tx, child])
  assert.equal(connectBlockTxs(ok, new Map(coins), params).fees, fees)
  throwsCode(() => connectBlockTxs(block([coinbase(1, subsidyAt(params, 1) + fees + 1n), tx, child]), new Map(coins), params), BlockError, 'BAD_COINBASE_VALUE')
  const doubleSpend = fundedSpend(10n * COIN)
  const rival = Tx.create({ ...doubleSpend.tx.data, outputs: [{ amount: 1n, address: key.addressHash }] })
  throwsCode(() => connectBlockTxs(block([coinbase(1), doubleSpend.tx, rival]), new Map(doubleSpend.coins), params), BlockError, 'DOUBLE_SPEND')
})

test('subsidy halves every halvingInterval blocks and ends after 64 halvings', () => {
  assert.equal(subsidyAt(params, 0), 50n * COIN)
  assert.equal(subsidyAt(params, params.halvingInterval - 1), 50n * COIN)
  assert.equal(subsidyAt(params, params.halvingInterval), 25n * COIN)
  assert.equal(subsidyAt(params, params.halvingInterval * 64), 0n)
})

test('proof of work: compact targets and work; regtest\'s target is fixed, lan\'s follows each solve time (ASERT)', () => {
  for (const bits of [0x1d00ffff, 0x207fffff, 0x1b0404cb]) assert.equal(targetToBits(bitsToTarget(bits)), bits)
  assert.ok(workOf(0x1d00ffff) > workOf(0x207fffff))
  assert.equal(expectedBits(params, 500, 0x1d00ffff, 0, () => 0), params.powLimitBits, 'regtest never moves its target')
  const lan = getNetwork('lan')
  assert.equal(lan.difficulty.kind, 'asert')
  if (lan.difficulty.kind !== 'asert') return
  const { halfLife, maxSolveTime } = lan.difficulty
  const spacing = lan.targetBlockTime
  for (const height of [1, 2]) assert.equal(expectedBits(lan, height, lan.genesisBits, lan.genesisTime + 86_400, () => lan.genesisTime), lan.genesisBits, `block ${height} takes the genesis target`)
  const after = (solve: number, parentBits = lan.genesisBits): bigint => bitsToTarget(expectedBits(lan, 10, parentBits, 1_000 + solve, h => h === 8 ? 1_000 : NaN))
  const genesisTarget = bitsToTarget(lan.genesisBits)
  assert.equal(after(spacing), genesisTarget, 'a block on time keeps the target')
  assert.equal(after(spacing + halfLife), genesisTarget * 2n, 'one half-life late: twice as easy')
  assert.equal(after(spacing - halfLife), genesisTarget / 2n, 'one half-life early (a timestamp before its parent\'s): twice as hard')
  assert.equal(after(86_400), after(maxSolveTime), 'a long gap counts as maxSolveTime')
  assert.equal(after(maxSolveTime, lan.powLimitBits), bitsToTarget(lan.powLimitBits), 'never above the limit')
})

test('the genesis block is deterministic and differs between networks', () => {
  assert.equal(genesisBlock(params).idString, genesisBlock(getNetwork('regtest')).idString)
  assert.notEqual(genesisBlock(params).idString, genesisBlock(getNetwork('lan')).idString)
})
