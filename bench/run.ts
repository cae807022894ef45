/**
 * `npm run bench`: every benchmark, each reported against a baseline measured in
 * the same run. Figures go to docs/performance.md.
 */
import { benchAttacks } from './attacks.ts'
import { benchBitswap, benchCar, benchGateway } from './ipfs.ts'
import { benchMempool } from './mempool.ts'
import { benchMiner } from './miner.ts'
import { benchNat } from './nat.ts'
import { benchPropagation, benchSync } from './network.ts'
import { benchStartup, benchWalletStartup } from './startup.ts'
import { benchStorage } from './storage.ts'
import { benchStopWrites } from './stop-writes.ts'
import { benchSwarm } from './swarm.ts'
import { benchValidation } from './validation.ts'
import { benchExplorer, benchWatching } from './watching.ts'

const results: Record<string, unknown> = {}
const run = async (name: string, fn: () => Promise<unknown>): Promise<void> => {
  process.stderr.write(`running ${name}...\n`)
  results[name] = await fn()
  console.log(name, JSON.stringify(results[name], (_k, v: unknown) => typeof v === 'number' ? Math.round(v * 1000) / 1000 : v))
}

await run('validation', benchValidation)
await run('miner', benchMiner)
await run('startup', benchStartup)
await run('storage', benchStorage)
await run('stop writes', benchStopWrites)
await run('wallet startup', benchWalletStartup)
await run('mempool', benchMempool)
await run('propagation', benchPropagation)
await run('sync', benchSync)
await run('bitswap', benchBitswap)
await run('gateway', benchGateway)
await run('car', benchCar)
await run('attacks', benchAttacks)
await run('swarm', benchSwarm)
await run('watching', benchWatching)
await run('explorer', benchExplorer)
await run('nat', benchNat)
