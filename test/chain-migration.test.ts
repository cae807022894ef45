import assert from 'node:assert/strict'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { test, type TestContext } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { Level } from 'level'
import type { CID } from 'multiformats/cid'
import { moveRootBlocks, STORE_LAYOUT } from '../src/chain/blockstore-layout.ts'
import type { TestChain } from './helpers/chain-harness.ts'
import { toOldLayout } from '../bench/fixtures.ts'
import { blockstoreKey } from '../src/chain/records.ts'
import { ChainStore } from '../src/chain/store.ts'
import type { BlockEntry } from '../src/chain/types.ts'
import { cidOf, parseCid } from '../src/core/cbor.ts'
import { genesisBlock } from '../src/core/params.ts'
import type { Logger } from '../src/log.ts'
import { BranchBuilder, chainWorkspace, mineBlocks, newKey, outputOf, regtest, spendTx, type ChainWorkspace } from './helpers/chain-harness.ts'
import { killAll, seededRandom } from './helpers/crash-miner-run.ts'

const NODE = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url))
const CHILD = fileURLToPath(new URL('./fixtures/migrate-child.ts', import.meta.url))
/** A datadir made by coints 0.1.0 (the code before the blockstore had a keyspace of its own): see its .json. */
const DATADIR = fileURLToPath(new URL('./fixtures/datadir-0.1.0.tar.gz', import.meta.url))
const made = JSON.parse(readFileSync(new URL('./fixtures/datadir-0.1.0.json', import.meta.url), 'utf8')) as {
  tip: string, height: number, txouts: number, total: string, rootObjects: number, sideBranch: string
  invalid: { side: string, sideList: string, sideSpend: string, onSide: string, tip: string }
}

type Objects = Map<string, Uint8Array>

async function entries (level: { iterator: (opts?: object) => AsyncIterable<[string, Uint8Array]> }, range: object = {}): Promise<Objects> {
  const found: Objects = new Map()
  for await (const [key, value] of level.iterator(range)) found.set(key, value)
  return found
}

/** The 0.1.0 datadir unpacked into a workspace, with the blocks its database kept at the root. */
async function oldDatadir (t: TestContext): Promise<{ ws: ChainWorkspace, old: Objects }> {
  const ws = await chainWorkspace(t)
  execFileSync('tar', ['-xzf', DATADIR, '-C', ws.dir])
  const db = new Level<string, Uint8Array>(ws.dbPath(), { keyEncoding: 'utf8', valueEncoding: 'view' })
  const old = await entries(db, { gte: '/B', lt: '/C' })
  const sublevels = await entries(db, { gte: '!', lt: '"' })
  await db.close()
  assert.equal(old.size, made.rootObjects)
  assert.ok([...sublevels.keys()].every(k => /^!(?:[iurm])!/.test(k)), 'no blockstore sublevel yet')
  return { ws, old }
}

function logTo (lines: string[]): Logger {
  const keep = (msg: string): void => { lines.push(msg) }
  return { debug () {}, info: keep, warn: keep, error: keep }
}

/**
 * The migrated chain holds every block the old one did, byte for byte, in its
 * blockstore, the root none; the blocks found invalid left it (headers kept for
 * getblock), with the transactions of the invalid side block that no valid
 * block holds. Same tip, UTXO set and verifychain ok.
 */
async function assertMigrated (chain: TestChain, old: Objects): Promise<void> {
  assert.equal(chain.tip.idString, made.tip)
  assert.equal(chain.height, made.height)
  assert.deepEqual(chain.utxoSummary(), { height: made.height, tip: made.tip, txouts: made.txouts, total: BigInt(made.total) })
  const check = await chain.verifyChain()
  assert.equal(check.ok, true, check.mismatches.join('\n'))
  assert.equal(await chain.store.countRootBlocks(), 0, 'nothing left at the root')
  assert.deepEqual([...await chain.store.getMeta('layout') ?? []], [STORE_LAYOUT])

  const now = await entries(chain.store.blockstore.db)
  for (const [key, bytes] of now) assert.deepEqual(bytes, old.get(key), `${key}: moved unchanged, nothing new`)
  const sideTxs = dagCbor.decode<CID[]>(old.get(blockstoreKey(parseCid(made.invalid.sideList))) as Uint8Array)
  assert.ok(sideTxs.some(id => id.toString() === made.invalid.sideSpend))
  const invalidHeaders = [made.invalid.side, made.invalid.onSide, made.invalid.tip]
  const left = [...invalidHeaders, made.invalid.sideList, ...sideTxs.map(String)].map(id => blockstoreKey(parseCid(id))).sort()
  assert.deepEqual([...old.keys()].filter(key => !now.has(key)).sort(), left, 'only the invalid blocks left the blockstore')
  for (const id of invalidHeaders) {
    assert.equal(chain.blockInfo(id)?.validity, 'invalid')
    assert.equal((await chain.getHeader(parseCid(id)))?.idString, id, 'getblock still answers it by its header')
  }
  // Every valid block reads whole: the best chain and the side branch.
  for (let h = 0; h <= chain.height; h++) assert.ok(await chain.getBlock(chain.getEntryAt(h)?.id as CID), `best-chain block ${h}`)
  assert.equal(chain.blockInfo(made.sideBranch)?.validity, 'valid-fork')
  assert.ok(await chain.getBlock(parseCid(made.sideBranch)))
}

test('a datadir made by 0.1.0 (blocks at the root) is migrated on its first start with progress, every block intact', async t => {
  const { ws, old } = await oldDatadir(t)
  const lines: string[] = []
  const chain = await ws.open({ logger: logTo(lines) })
  await assertMigrated(chain, old)
  assert.ok(lines.some(l => l.startsWith(`blockstore: moving ${made.rootObjects} stored objects`)), lines.join('\n'))
  assert.ok(lines.some(l => new RegExp(`^blockstore: ${made.rootObjects} objects moved in [\\d.]+ s$`).test(l)), lines.join('\n'))
  assert.ok(lines.some(l => l.startsWith('blockstore: 3 blocks marked invalid left it')), lines.join('\n'))
  await chain.stop()

  // The next start has nothing to move.
  lines.length = 0
  const again = await ws.open({ logger: logTo(lines) })
  assert.equal(lines.filter(l => l.startsWith('blockstore:')).length, 0, lines.join('\n'))
  await assertMigrated(again, old)
})

test('the move logs its progress by tenths, with counts and percentages', async t => {
  const { ws } = await oldDatadir(t)
  const store = new ChainStore(ws.dbPath(), { marker: { network: regtest.name, genesis: genesisBlock(regtest).idString } })
  await store.open()
  t.after(async () => { await store.close() })
  const lines: string[] = []
  assert.equal(await moveRootBlocks(store, logTo(lines), { batchObjects: 10 }), made.rootObjects)
  const progress = lines.filter(l => / objects moved \(\d+%\)$/.test(l))
  assert.deepEqual(progress.map(l => Number(/\((\d+)%\)/.exec(l)?.[1])), [16, 24, 32, 40, 56, 64, 72, 80, 96])
  assert.equal(progress[0], `blockstore: 20 of ${made.rootObjects} objects moved (16%)`)
  assert.equal(await store.countRootBlocks(), 0)
})

/**
 * A chain of 400 blocks with a spend in most of them and an invalid side
 * block, built by this code and rewritten in the 0.1.0 layout (toOldLayout):
 * about 1,600 objects, so a move at one object a batch runs long enough for
 * kills to land inside it.
 */
async function bigOldDatadir (t: TestContext): Promise<{ ws: ChainWorkspace, summary: ReturnType<TestChain['utxoSummary']>, blocks: Objects, invalid: Objects }> {
  const ws = await chainWorkspace(t)
  const chain = await ws.open()
  const key = newKey()
  const mined = await mineBlocks(chain, ws.clock, 12, key.addressHash)
  for (let n = 0; n < 388; n++) {
    await chain.acceptTx(spendTx(chain, [outputOf(mined[n].txs[0])], key))
    mined.push(...await mineBlocks(chain, ws.clock, 1, key.addressHash))
  }
  const branch = BranchBuilder.on(chain, chain.getEntryAt(chain.height - 1) as BlockEntry)
  assert.equal((await chain.processBlock(branch.next({ txs: [spendTx(chain, [outputOf(mined[0].txs[0])], key, { fee: 3_000n })] }))).status, 'side')
  await assert.rejects(chain.processBlock(branch.next()))
  const summary = chain.utxoSummary()
  await chain.stop()
  const { blocks, invalid } = await toOldLayout(ws.dbPath())
  assert.equal(invalid.size, 2)
  return { ws, summary, blocks, invalid }
}

test('a migration SIGKILLed at random points resumes where it was cut and completes with every block', async t => {
  const children = new Set<ChildProcess>()
  t.after(async () => { await killAll(children) })
  const { ws, summary, blocks, invalid } = await bigOldDatadir(t)
  const total = blocks.size + invalid.size
  assert.ok(total > 1_500)
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31)
  const random = seededRandom(seed)
  const cuts: string[] = []
  let midMove = 0
  let left = total
  for (let round = 0; round < 20; round++) {
    // One object a batch (~0.25 ms each), then the chain starts on the new layout (~100 ms).
    const killAfter = 1 + random(400)
    const delayMs = random(3) === 0 ? 0 : random(100)
    const child = spawn(NODE, [CHILD, ws.dbPath(), '1'], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    const exited = once(child, 'exit')
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    let moving: number | undefined
    let batches = 0
    let done = false
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`round ${round} (seed ${seed}): no progress in 30 s; stderr: ${stderr}`)) }, 30_000)
      const finish = (): void => { clearTimeout(timer); resolve() }
      child.once('exit', finish)
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', line => {
        const [kind, n] = line.split(' ')
        if (kind === 'moving') moving = Number(n)
        if (kind === 'batch' && ++batches === killAfter) setTimeout(finish, delayMs)
        if (kind === 'done') done = true
      })
    })
    child.kill('SIGKILL')
    await exited
    children.delete(child)
    assert.equal(stderr, '', `round ${round} (seed ${seed})`)
    // Where the kill landed: objects still at the root.
    const db = new Level<string, Uint8Array>(ws.dbPath(), { keyEncoding: 'utf8', valueEncoding: 'view' })
    const atRoot = (await entries(db, { gte: '/B', lt: '/C' })).size
    await db.close()
    cuts.push(`round ${round}: ${moving ?? 'nothing'} to move, killed after ${batches} batches + ${delayMs} ms, ${atRoot} left${done ? ', done' : ''}`)
    if (atRoot > 0 && atRoot < left) midMove++
    // Each run goes on with exactly what the last one left: nothing moved twice, nothing lost.
    assert.equal(moving, left > 0 ? left : undefined, cuts.join('\n'))
    left = atRoot
    if (done) break
  }
  t.diagnostic(`seed ${seed}: ${cuts.join('; ')}`)
  assert.ok(midMove > 0, `a kill landed mid-move (seed ${seed}): ${cuts.join('; ')}`)
  const chain = await ws.open()
  assert.deepEqual(chain.utxoSummary(), summary)
  const check = await chain.verifyChain()
  assert.equal(check.ok, true, check.mismatches.join('\n'))
  assert.equal(await chain.store.countRootBlocks(), 0)
  assert.deepEqual(await entries(chain.store.blockstore.db), blocks, 'every valid block\'s objects, byte for byte, and nothing else')
  for (const header of invalid.values()) {
    const id = cidOf(header)
    assert.equal(chain.blockInfo(id.toString())?.validity, 'invalid')
    assert.deepEqual((await chain.getHeader(id))?.bytes, header)
  }
})
