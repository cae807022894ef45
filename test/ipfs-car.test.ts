import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { CarBlockIterator } from '@ipld/car'
import { exportCar, importCar } from '../src/rpc/car-transfer.ts'
import type { CointsNode } from '../src/node/node.ts'
import type { RpcTarget } from '../src/rpc/client.ts'
import { newKey, rpc, startNode } from './helpers/node-harness.ts'
import { spendCoinbase } from './helpers/spend.ts'

function targetOf (node: CointsNode): RpcTarget {
  return { datadir: node.options.datadir, port: node.rpc.port }
}

async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'coints-car-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** A node whose chain has 30 blocks, some with spends beside their coinbase. */
async function sourceNode (t: TestContext): Promise<CointsNode> {
  const key = newKey()
  const node = await startNode(t, { minerAddress: key.address })
  await rpc(node, 'generate', [12])
  for (let h = 1; h <= 6; h++) {
    await node.chain.acceptTx(await spendCoinbase(node.chain, h, key, newKey().addressHash))
    await rpc(node, 'generate', [3])
  }
  return node
}

test('a CAR export imported into a fresh node (only genesis) reaches the same tip and UTXO summary; the CAR holds every object once, with the tip as root', async t => {
  const source = await sourceNode(t)
  const file = join(await tempDir(t), 'chain.car')
  const exported = await exportCar(targetOf(source), file, {})
  assert.equal(exported.blocks, 31)
  assert.equal(exported.root, source.chain.tip.idString)

  const reader = await CarBlockIterator.fromIterable((async function * () { yield await readFile(file) })())
  assert.deepEqual((await reader.getRoots()).map(String), [source.chain.tip.idString])
  let objects = 0
  for await (const _ of reader) objects++
  assert.equal(objects, exported.objects)

  const fresh = await startNode(t)
  const report = await importCar(targetOf(fresh), file)
  assert.equal(report.failure, undefined)
  assert.deepEqual(report.refused, [])
  assert.deepEqual(report.statuses, { known: 1, connected: 30 })
  assert.equal(fresh.chain.tip.idString, source.chain.tip.idString)
  assert.deepEqual(await rpc(fresh, 'gettxoutsetinfo'), await rpc(source, 'gettxoutsetinfo'))

  // A range: heights 5..9, root the block at 9.
  const part = join(await tempDir(t), 'part.car')
  const range = await exportCar(targetOf(source), part, { from: 5, to: 9 })
  assert.equal(range.blocks, 5)
  assert.equal(range.root, source.chain.getEntryAt(9)?.idString)
  await assert.rejects(exportCar(targetOf(source), part, { from: 3, to: 99 }), { code: 'BAD_RANGE' })
})

test('a tampered CAR is refused at its first altered object with BAD_HASH, a truncated one with TRUNCATED: what came whole before is imported, nothing after', async t => {
  const source = await sourceNode(t)
  const dir = await tempDir(t)
  const file = join(dir, 'chain.car')
  await exportCar(targetOf(source), file, {})
  const bytes = await readFile(file)

  // One byte of the spend in block 13 changed (its output's amount).
  const entry = source.chain.getEntryAt(13)
  assert.ok(entry !== undefined)
  const block13 = await source.chain.getBlock(entry.id)
  assert.ok(block13 !== undefined)
  const spend = block13.txs[1].bytes
  const at = bytes.indexOf(Buffer.from(spend))
  assert.ok(at > 0)
  const tampered = Buffer.from(bytes)
  tampered[at + spend.length - 40] ^= 1
  await writeFile(join(dir, 'tampered.car'), tampered)
  const fresh = await startNode(t)
  const report = await importCar(targetOf(fresh), join(dir, 'tampered.car'))
  assert.equal(report.failure?.code, 'BAD_HASH')
  assert.match(report.failure?.message ?? '', new RegExp(block13.txs[1].idString))
  assert.equal(fresh.chain.height, 12, 'the blocks before the altered one, and nothing after it')

  await writeFile(join(dir, 'truncated.car'), bytes.subarray(0, at + 10))
  const other = await startNode(t)
  const cut = await importCar(targetOf(other), join(dir, 'truncated.car'))
  assert.equal(cut.failure?.code, 'TRUNCATED')
  assert.equal(other.chain.height, 12)
  assert.ok((await stat(file)).size > at)
})
