import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { BlockIndex, type IndexEntry } from '../src/chain/block-index.ts'
import { BlockStatus } from '../src/chain/records.ts'
import { workOf } from '../src/core/pow.ts'
import { regtest } from './helpers/chain-harness.ts'

/** An index over records alone (no blocks, no proof of work): genesis then `length` blocks. */
function line (index: BlockIndex, from: IndexEntry | undefined, length: number, time = 1_000): IndexEntry[] {
  const entries: IndexEntry[] = []
  let parent = from
  for (let i = 0; i < length; i++) {
    const height = parent === undefined ? 0 : parent.height + 1
    parent = index.add({ digest: new Uint8Array(randomBytes(32)), prevDigest: parent?.digest ?? null, height, time: time + height, bits: regtest.powLimitBits, status: BlockStatus.VALID })
    entries.push(parent)
  }
  return entries
}

test('the block index walks side branches back to the best chain', () => {
  const index = new BlockIndex(regtest)
  const main = line(index, undefined, 8)
  index.setBest(main[7])
  const side = line(index, main[3], 3, 5_000)
  assert.equal(side[2].height, 6)
  assert.equal(side[2].chainwork, 7n * workOf(regtest.powLimitBits))
  assert.equal(index.ancestor(side[2], 5), side[1])
  assert.equal(index.ancestor(side[2], 4), side[0])
  assert.equal(index.ancestor(side[2], 2), main[2])
  assert.equal(index.ancestor(main[7], 3), main[3])
  assert.throws(() => index.ancestor(side[0], 5), RangeError)
  assert.equal(index.fork(side[2]), main[3])
  assert.equal(index.isOnBestChain(side[0]), false)
  // The times along the side branch: its own three (5004..5006), then main's four (1000..1003).
  assert.equal(index.medianTimePast(side[2]), 1_003)
})

test('best candidate: most work, ties to the preferred entry, invalid entries never', () => {
  const index = new BlockIndex(regtest)
  const main = line(index, undefined, 4)
  index.setBest(main[3])
  const side = line(index, main[1], 2)
  assert.equal(index.bestCandidate(), main[3], 'the tip wins a tie')
  assert.equal(index.bestCandidate(side[1]), side[1], 'so does the preferred entry')
  const longer = line(index, side[1], 1)
  assert.equal(index.bestCandidate(), longer[0])
  const marked = index.invalidate(side[0])
  assert.deepEqual(new Set(marked), new Set([side[0], side[1], longer[0]]))
  assert.equal(index.bestCandidate(), main[3])
  assert.equal(index.toRecord(side[1]).status, BlockStatus.INVALID)
  // A record added under an invalid parent is invalid too.
  assert.equal(line(index, longer[0], 1)[0].status, BlockStatus.INVALID)
  assert.throws(() => index.add({ digest: new Uint8Array(32), prevDigest: new Uint8Array(32).fill(1), height: 9, time: 0, bits: regtest.powLimitBits, status: BlockStatus.VALID }), /no parent/)
})
