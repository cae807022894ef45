import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Chain } from '../src/chain/chain.ts'
import type { Block } from '../src/core/block.ts'
import { keyPairOf, randomPrivateKey } from '../src/core/keys.ts'
import { getNetwork } from '../src/core/params.ts'
import { solveBlock } from '../src/miner/solve.ts'

export const regtest = getNetwork('regtest')

/** A node datadir on regtest whose chain holds `blocks` blocks (coinbase only); returns the blocks too. */
export async function chainDatadir (blocks: number): Promise<{ datadir: string, blocks: Block[] }> {
  const datadir = await mkdtemp(join(tmpdir(), `coints-bench-${blocks}-`))
  let t = Math.floor(Date.now() / 1000) - blocks
  const chain = new Chain({}, { params: regtest, dbPath: join(datadir, 'chain'), now: () => t })
  await chain.start()
  const address = keyPairOf(randomPrivateKey()).addressHash
  const mined: Block[] = []
  for (let i = 0; i < blocks; i++) {
    t += 1
    const block = solveBlock(chain.createBlockTemplate(address))
    await chain.processBlock(block)
    mined.push(block)
  }
  await chain.stop()
  return { datadir, blocks: mined }
}
