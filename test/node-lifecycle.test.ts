import assert from 'node:assert/strict'
import { test } from 'node:test'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ChainError } from '../src/chain/chain.ts'
import { CointsError } from '../src/core/errors.ts'
import { genesisBlock } from '../src/core/params.ts'
import { tempDatadir, testNode } from './helpers/node-harness.ts'

test('a node stopped while starting starts nothing more, and everything it started stops', async t => {
  const node = await testNode(t)
  const starting = node.start()
  const stopping = node.stop()
  await assert.rejects(starting, (err: unknown) => err instanceof CointsError && err.code === 'STOPPED_WHILE_STARTING')
  await stopping
  await node.stopped
  await assert.rejects(node.chain.processBlock(genesisBlock(node.params)), (err: unknown) => err instanceof ChainError && err.code === 'NOT_RUNNING')
  // The RPC server never listened (its port would be the one it got).
  assert.equal(node.rpc.port, 0)
})

test('a start removes the temporary files that writes killed mid-way left in the datadir (a wallet seed each)', async t => {
  const datadir = await tempDatadir(t)
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(child, 'exit')
  const stale = `wallet.json.${child.pid as number}.0123456789ab.tmp`
  await writeFile(join(datadir, stale), 'encrypted seed')
  const node = await testNode(t, { datadir, p2p: false })
  await node.start()
  assert.equal((await readdir(datadir)).includes(stale), false)
})
