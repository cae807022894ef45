import assert from 'node:assert/strict'
import { test } from 'node:test'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { removeStaleTemps, writeFileAtomic } from '../src/util/atomic-file.ts'
import { waitFor } from './helpers/node-harness.ts'

test('writes of one file at once each land whole, and leave no temporary file behind', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-atomic-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const path = join(dir, 'wallet.json')
  const contents = Array.from({ length: 8 }, (_, i) => String(i).repeat(100_000 * (i % 2) + 10))
  await Promise.all(contents.map(async c => { await writeFileAtomic(path, c) }))
  assert.ok(contents.includes(await readFile(path, 'utf8')), 'the file holds one whole write')
  assert.deepEqual(await readdir(dir), ['wallet.json'])
  // A write that fails (its directory is gone) leaves nothing behind and throws.
  await assert.rejects(writeFileAtomic(join(dir, 'missing', 'x'), 'x'), { code: 'ENOENT' })
})

/** The pid of a process that has exited: what a write killed mid-way leaves in its temporary file's name. */
async function deadPid (): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(child, 'exit')
  return child.pid as number
}

test('temporary files of writes cut short are removed, whatever process now has their id (this one\'s included); those of this process\'s writes under way stay', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-atomic-'))
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' })
  t.after(async () => {
    sleeper.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })
  const stale = [
    `wallet.json.${await deadPid()}.0123456789ab.tmp`,
    `bans.json.${await deadPid()}.ba9876543210.tmp`,
    // A dead process's id, taken since by another process, or by this one.
    `wallet.json.${sleeper.pid as number}.aaaaaaaaaaaa.tmp`,
    `mempool.dat.${process.pid}.bbbbbbbbbbbb.tmp`
  ]
  for (const name of [...stale, 'wallet.json', 'notes.tmp']) await writeFile(join(dir, name), 'encrypted seed')
  assert.deepEqual((await removeStaleTemps(dir)).sort(), stale.sort())
  assert.deepEqual((await readdir(dir)).sort(), ['notes.tmp', 'wallet.json'].sort())

  // A write under way: its temporary file, seen mid-write, stays, and the write lands whole.
  const path = join(dir, 'mempool.dat')
  const data = new Uint8Array(64 * 1024 * 1024).fill(7)
  const write = writeFileAtomic(path, data)
  const temp = await waitFor(async () => (await readdir(dir)).find(n => n.startsWith('mempool.dat.')), 'the write\'s temporary file', 30_000)
  assert.deepEqual(await removeStaleTemps(dir), [], `${temp} is a write under way`)
  await write
  assert.equal((await readFile(path)).length, data.length)
})
