import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { makeDirectory } from '../src/util/make-directory.ts'

test('makeDirectory makes every missing level with the mode given, and accepts a directory that exists', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-mkdir-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const deep = join(dir, 'a', 'b', 'c')
  await makeDirectory(deep, 0o700)
  assert.equal((await stat(deep)).mode & 0o777, 0o700)
  assert.equal((await stat(join(dir, 'a'))).mode & 0o777, 0o700)
  await makeDirectory(deep)
  await writeFile(join(dir, 'file'), '')
  await assert.rejects(makeDirectory(join(dir, 'file', 'x')), { code: 'ENOTDIR' })
})

// Node's recursive mkdir never returns here (libuv retries the ENOENT of /proc without end): the timeout fails the old code.
test('makeDirectory under /proc, which makes no directories, fails with ENOENT instead of spinning', { timeout: 10_000 }, async t => {
  if (!(await stat('/proc').then(s => s.isDirectory(), () => false))) return t.skip('no /proc')
  await assert.rejects(makeDirectory('/proc/coints-x/y'), { code: 'ENOENT', path: '/proc/coints-x' })
})
