import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeFileAtomic } from '../src/util/atomic-file.ts'

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
