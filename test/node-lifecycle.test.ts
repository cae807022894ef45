import assert from 'node:assert/strict'
import { test } from 'node:test'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChainError } from '../src/chain/chain.ts'
import { CointsError } from '../src/core/errors.ts'
import { genesisBlock } from '../src/core/params.ts'
import { CointsNode } from '../src/node/node.ts'
import { defaultNodeOptions } from '../src/node/options.ts'

test('a node stopped while starting starts nothing more, and everything it started stops', async t => {
  const datadir = await mkdtemp(join(tmpdir(), 'coints-node-'))
  t.after(async () => { await rm(datadir, { recursive: true, force: true }) })
  const node = new CointsNode({ ...defaultNodeOptions('regtest'), datadir, rpcPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, verifierThreads: 1 })
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
  const datadir = await mkdtemp(join(tmpdir(), 'coints-node-'))
  t.after(async () => { await rm(datadir, { recursive: true, force: true }) })
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(child, 'exit')
  const stale = `wallet.json.${child.pid as number}.0123456789ab.tmp`
  await writeFile(join(datadir, stale), 'encrypted seed')
  const node = new CointsNode({ ...defaultNodeOptions('regtest'), datadir, rpcPort: 0, p2p: false, verifierThreads: 1 })
  t.after(async () => { await node.stop() })
  await node.start()
  assert.equal((await readdir(datadir)).includes(stale), false)
})
