import assert from 'node:assert/strict'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { CachedDirectoryBytes, directoryBytes } from '../src/util/disk-usage.ts'

test('a cached directory size is walked again only once it is older than its age, and then counts what was written', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-disk-usage-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  await mkdir(join(dir, 'blocks'))
  await writeFile(join(dir, 'blocks', '000001.log'), Buffer.alloc(1_000))
  let now = 0
  const cached = new CachedDirectoryBytes(dir, 5_000, () => now)
  assert.equal(await cached.bytes(), 1_000)
  await writeFile(join(dir, 'blocks', '000002.ldb'), Buffer.alloc(500))
  now = 4_999
  assert.equal(await cached.bytes(), 1_000, 'within its age the figure is the one measured')
  now = 5_000
  assert.equal(await cached.bytes(), 1_500, 'once stale it is measured again and grows with the files written')
  assert.equal(await cached.bytes(), await directoryBytes(dir))
})

test('calls while a walk is under way share it', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-disk-usage-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(join(dir, 'CURRENT'), 'MANIFEST-000001\n')
  let clockReads = 0
  const cached = new CachedDirectoryBytes(dir, 5_000, () => { clockReads++; return 0 })
  const sizes = await Promise.all([cached.bytes(), cached.bytes(), cached.bytes()])
  assert.deepEqual(sizes, [16, 16, 16])
  // Each call reads the clock once to judge the figure's age; the one walk reads it once more when it ends.
  assert.equal(clockReads, 4)
})
