/** Miner hash rate against the raw hash function on the same header bytes, in the same process. */
import { hash } from 'node:crypto'
import { NONCE_BYTES } from '../src/core/block.ts'
import { genesisBlock, getNetwork } from '../src/core/params.ts'
import { headerTemplate } from '../src/miner/header-template.ts'
import { NonceSearcher } from '../src/miner/nonce-search.ts'

export interface MinerBench { rawHashesPerSec: number, minerHashesPerSec: number, ratio: number }

export async function benchMiner (seconds = 2): Promise<MinerBench> {
  const params = getNetwork('lan')
  const data = { ...genesisBlock(params).header.data, height: 1, prev: genesisBlock(params).id, nonce: new Uint8Array(NONCE_BYTES), bits: 0x03000001 }
  const { bytes, offset } = headerTemplate(data)
  // Baseline: hashing the same bytes, changing the nonce in place, on this thread.
  const buf = Buffer.from(bytes)
  let n = 0
  const start = performance.now()
  while (performance.now() - start < seconds * 1000) {
    for (let i = 0; i < 10_000; i++) {
      buf.writeUInt32BE(n++ >>> 0, offset + 4)
      hash('sha256', buf, 'buffer')
    }
  }
  const rawHashesPerSec = n / ((performance.now() - start) / 1000)

  const searcher = new NonceSearcher({ threads: 1 })
  await searcher.warmUp()
  const before = searcher.hashes
  const since = performance.now()
  const search = searcher.search(data)
  await new Promise(resolve => setTimeout(resolve, seconds * 1000))
  const minerHashesPerSec = (searcher.hashes - before) / ((performance.now() - since) / 1000)
  searcher.abort()
  await search
  await searcher.stop()
  return { rawHashesPerSec, minerHashesPerSec, ratio: minerHashesPerSec / rawHashesPerSec }
}

if (import.meta.main) console.log(JSON.stringify(await benchMiner(), null, 2))
