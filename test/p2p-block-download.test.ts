import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Block, Header } from '../src/core/block.ts'
import { BlockDownload, type DownloadInit } from '../src/p2p/block-download.ts'

/** A peer with a chain of `length` blocks; headers and blocks are stand-ins named by height. */
function fakePeer (length: number, opts: { roundSize: number, replyMax: number, failHeadersAfter?: number, failBlockAt?: number }) {
  const header = (h: number): Header => ({ idString: String(h) }) as unknown as Header
  const stats = { headerRequests: 0, inFlight: 0, maxInFlight: 0 }
  const source = {
    headers: async (after: Header | undefined): Promise<Header[]> => {
      stats.headerRequests++
      await Promise.resolve()
      const from = after === undefined ? 1 : Number(after.idString) + 1
      if (opts.failHeadersAfter !== undefined && from > opts.failHeadersAfter) throw new Error('headers failed')
      return Array.from({ length: Math.max(0, Math.min(opts.roundSize, length - from + 1)) }, (_, i) => header(from + i))
    },
    blocks: async (batch: Header[]): Promise<Block[]> => {
      stats.inFlight++
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight)
      // Replies come back in any order: later batches may overtake earlier ones.
      await new Promise(resolve => setImmediate(resolve))
      if (batch.length % 3 === 0) await new Promise(resolve => setImmediate(resolve))
      stats.inFlight--
      if (batch.some(h => Number(h.idString) === opts.failBlockAt)) throw new Error('bad block')
      return batch.slice(0, opts.replyMax).map(h => ({ idString: h.idString }) as unknown as Block)
    }
  }
  return { source, stats }
}

function download (peer: ReturnType<typeof fakePeer>, connected: number[], over: Partial<DownloadInit> = {}): BlockDownload {
  return new BlockDownload(peer.source, {
    roundSize: 1_000,
    batchSize: 64,
    depth: 4,
    wanted: () => true,
    worthFetching: () => true,
    connect: async block => { connected.push(Number(block.idString)) },
    stopped: () => false,
    ...over
  })
}

test('a download over several rounds connects every block once, in order, with bounded requests in flight', async () => {
  const peer = fakePeer(2_500, { roundSize: 1_000, replyMax: 50 })
  const connected: number[] = []
  await download(peer, connected).run()
  assert.deepEqual(connected, Array.from({ length: 2_500 }, (_, i) => i + 1))
  // Rounds of 1,000, 1,000 and 500: the short one is the last asked for.
  assert.equal(peer.stats.headerRequests, 3)
  // depth requests, plus one asking again for what a capped reply left out.
  assert.ok(peer.stats.maxInFlight <= 5, `at most 5 in flight, saw ${peer.stats.maxInFlight}`)
  assert.ok(peer.stats.maxInFlight >= 4, 'requests overlap')
})

test('blocks already stored are not fetched, and a peer with nothing new ends the download', async () => {
  const connected: number[] = []
  await download(fakePeer(300, { roundSize: 1_000, replyMax: 64 }), connected, { wanted: h => Number(h.idString) > 200 }).run()
  assert.deepEqual(connected, Array.from({ length: 100 }, (_, i) => i + 201))
  const none: number[] = []
  await download(fakePeer(0, { roundSize: 1_000, replyMax: 64 }), none).run()
  assert.deepEqual(none, [])
})

test('a failed header round fails the download after the blocks before it connect; a failed batch stops it', async () => {
  const connected: number[] = []
  await assert.rejects(download(fakePeer(2_500, { roundSize: 1_000, replyMax: 64, failHeadersAfter: 1_000 }), connected).run(), /headers failed/)
  assert.deepEqual(connected, Array.from({ length: 1_000 }, (_, i) => i + 1))

  const partial: number[] = []
  await assert.rejects(download(fakePeer(2_500, { roundSize: 1_000, replyMax: 64, failBlockAt: 700 }), partial).run(), /bad block/)
  assert.ok(partial.length < 700 && partial.every((h, i) => h === i + 1), 'nothing past the failed batch connects')
})

test('headers come first: no block is fetched until the branch is worth it, and a branch that never is fetches nothing', async () => {
  const peer = fakePeer(2_500, { roundSize: 1_000, replyMax: 64 })
  const connected: number[] = []
  const seen: number[] = []
  let blocksAskedBeforeWorth = false
  await download(peer, connected, {
    worthFetching: branch => {
      seen.push(branch.length)
      blocksAskedBeforeWorth ||= peer.stats.inFlight > 0 || connected.length > 0
      return branch.length >= 1_500
    }
  }).run()
  assert.equal(blocksAskedBeforeWorth, false)
  // Asked after each round until the second round's headers make it worth it.
  assert.deepEqual(seen, [1_000, 2_000])
  assert.deepEqual(connected, Array.from({ length: 2_500 }, (_, i) => i + 1))

  const light = fakePeer(2_500, { roundSize: 1_000, replyMax: 64 })
  const none: number[] = []
  const calls: Array<[number, boolean]> = []
  await download(light, none, { worthFetching: (branch, complete) => { calls.push([branch.length, complete]); return false } }).run()
  assert.deepEqual(none, [])
  assert.deepEqual(calls, [[1_000, false], [2_000, false], [2_500, true]])
  assert.equal(light.stats.maxInFlight, 0, 'no block requested')

  const refused = fakePeer(2_500, { roundSize: 1_000, replyMax: 64 })
  await assert.rejects(download(refused, none, { worthFetching: branch => { if (branch.length >= 2_000) throw new Error('too deep'); return false } }).run(), /too deep/)
  assert.equal(refused.stats.headerRequests, 2)
  assert.equal(refused.stats.maxInFlight, 0)
})
