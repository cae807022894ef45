/**
 * The fast parsers against the generic decoder: the transaction parser must
 * accept only what the generic decoder accepts, decode it to the same data, and
 * cut the same sighash preimage that encoding gives; the block message splitter
 * must give the same parts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeBlockParts, encodeBlockParts } from '../src/core/block.ts'
import { text } from '../src/core/cbor-reader.ts'
import { encodeCbor } from '../src/core/cbor.ts'
import { DecodeError } from '../src/core/errors.ts'
import { genesisBlock, getNetwork } from '../src/core/params.ts'
import { OutPoint } from '../src/core/outpoint.ts'
import { decodeTxData, encodeSighashPreimage, Tx, TX_VERSION, type TransactionData } from '../src/core/tx.ts'
import { parseTx, sighashPreimage } from '../src/core/tx-codec.ts'
import { toHex } from '../src/core/hash.ts'
import { newKey } from './helpers/chain-harness.ts'

const genesis = genesisBlock(getNetwork('regtest'))
const chainTag = genesis.id.bytes
const key = newKey()

function plain (data: TransactionData): unknown {
  return {
    version: data.version,
    height: data.height,
    inputs: data.inputs.map(i => [i.prev.txid.toString(), i.prev.index, toHex(i.pubkey), toHex(i.sig)]),
    outputs: data.outputs.map(o => [o.amount.toString(), toHex(o.address)])
  }
}

function txData (inputs: number[], amounts: bigint[], height?: number): TransactionData {
  return {
    version: TX_VERSION,
    ...(height === undefined ? {} : { height }),
    inputs: inputs.map((index, n) => ({ prev: OutPoint.of(genesis.txs[0].id, index), pubkey: key.publicKey, sig: new Uint8Array(64).fill(n + 1) })),
    outputs: amounts.map(amount => ({ amount, address: key.addressHash }))
  }
}

/** Integers at every head-size boundary, coinbases, amounts past 2^32 and 2^53, negative amounts. */
const samples: TransactionData[] = [
  txData([], [5_000_000_000n], 0),
  txData([], [0n], 0xffff_ffff),
  txData([0, 23, 24, 255, 256, 65_535, 65_536, 0xffff_ffff], [1n, 23n, 24n, 255n, 256n, 65_535n, 65_536n]),
  txData([7], [0xffff_ffffn, 0x1_0000_0000n, 2n ** 53n + 1n, 2n ** 64n - 1n]),
  txData([1, 2], [-1n, -25n, -(2n ** 64n)])
]

/** Checks one byte string: whatever the fast parser accepts, the generic decoder accepts as the same transaction. */
function agree (bytes: Uint8Array): 'both' | 'generic only' | 'neither' {
  const fast = parseTx(bytes)
  let generic: TransactionData | undefined
  try {
    generic = decodeTxData(bytes)
  } catch {}
  if (fast === undefined) return generic === undefined ? 'neither' : 'generic only'
  assert.ok(generic !== undefined, `the fast parser accepted what the generic decoder rejects: ${toHex(bytes)}`)
  assert.deepEqual(plain(fast.data), plain(generic))
  assert.equal(toHex(sighashPreimage(bytes, fast.sigOffsets, chainTag)), toHex(encodeSighashPreimage(generic, chainTag)))
  return 'both'
}

test('the fast parser decodes canonical transactions as the generic decoder does, and cuts the defined sighash preimage', () => {
  for (const data of samples) {
    const bytes = Tx.create(data).bytes
    assert.equal(agree(bytes), 'both')
    assert.deepEqual(plain((parseTx(bytes) as { data: TransactionData }).data), plain(data))
  }
})

test('the fast parser refuses non-canonical and malformed layouts that the generic decoder refuses', () => {
  const bytes = Tx.create(samples[2]).bytes
  const at = (s: string): number => Buffer.from(bytes).indexOf(Buffer.from([0x60 + s.length, ...Buffer.from(s)])) + 1 + s.length
  const version = at('version')
  const cases = [
    // version 1 as a one-byte-follows head
    Uint8Array.from([...bytes.subarray(0, version), 0x18, 0x01]),
    Uint8Array.from([...bytes, 0x00]),
    bytes.subarray(0, bytes.length - 1),
    encodeCbor({ version: 1, inputs: [], outputs: [], extra: 1 }),
    encodeCbor({ version: 1, inputs: [], outputs: 'x' }),
    encodeCbor({ version: 1.5, inputs: [], outputs: [] }),
    Uint8Array.from([0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02])
  ]
  for (const c of cases) {
    assert.equal(parseTx(c), undefined)
    assert.throws(() => decodeTxData(c))
  }
})

test('fuzz: of thousands of mutated transactions, the fast parser accepts none the generic decoder refuses', () => {
  let seed = 0x2f6b_1c3d
  const random = (n: number): number => {
    // mulberry32: deterministic, so a failure reproduces
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return (((t ^ (t >>> 14)) >>> 0) / 4_294_967_296) * n | 0
  }
  const counts = { both: 0, 'generic only': 0, neither: 0 }
  for (const data of samples) {
    const bytes = Tx.create(data).bytes
    for (let i = 0; i < 3_000; i++) {
      const m = Array.from(bytes)
      const pos = random(m.length)
      const op = random(4)
      if (op === 0) m[pos] = random(256)
      else if (op === 1) m[pos] ^= 1 << random(8)
      else if (op === 2) m.splice(pos, 0, random(256))
      else m.splice(pos, 1 + random(3))
      counts[agree(Uint8Array.from(m))]++
    }
  }
  // Both outcomes are exercised: mutations inside keys, signatures and amounts still parse.
  assert.ok(counts.both > 1_000, `accepted ${counts.both}`)
  assert.ok(counts.neither > 1_000, `refused ${counts.neither}`)
})

test('block messages: the canonical layout and any other encoding split into the same parts; bad ones are refused', () => {
  const txs = samples.slice(0, 5).map(data => Tx.create(data).bytes)
  const header = genesis.header.bytes
  const canonical = encodeBlockParts(header, txs)
  const parts = decodeBlockParts(canonical)
  assert.deepEqual(parts, { header, txs })
  // Views of the message, not copies.
  assert.equal(parts.header.buffer, canonical.buffer)
  // Keys in the other order: not what we write, but a valid message the generic decoder reads.
  const reordered = Uint8Array.from([0xa2, ...text('header'), ...encodeCbor(header), ...text('txs'), ...encodeCbor(txs)])
  assert.deepEqual(decodeBlockParts(reordered), { header, txs })
  assert.throws(() => decodeBlockParts(canonical.subarray(0, canonical.length - 1)), (err: unknown) => err instanceof DecodeError && err.code === 'MALFORMED_CBOR')
  assert.throws(() => decodeBlockParts(encodeCbor({ header, txs, extra: 1 })), (err: unknown) => err instanceof DecodeError && err.code === 'BAD_FIELD')
  assert.throws(() => decodeBlockParts(encodeCbor({ header, txs: [1] })), (err: unknown) => err instanceof DecodeError && err.code === 'BAD_FIELD')
})

test('a transaction\'s sighash follows the chain tag it is asked for: one Tx object checked for two networks gets two', () => {
  const other = genesisBlock(getNetwork('lan')).id.bytes
  const tx = Tx.fromBytes(Tx.create(txData([0, 1], [5n])).bytes)
  const ours = tx.sighash(chainTag)
  const theirs = tx.sighash(other)
  assert.notEqual(toHex(ours), toHex(theirs))
  assert.equal(toHex(theirs), toHex(Tx.fromBytes(tx.bytes).sighash(other)))
  assert.equal(toHex(tx.sighash(chainTag)), toHex(ours))
  assert.throws(() => sighashPreimage(tx.bytes, (parseTx(tx.bytes) as { sigOffsets: number[] }).sigOffsets, new Uint8Array(256)), RangeError)
})
