import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { isLanSupported, Lan } from '../src/swarm/netns.ts'

const run = promisify(execFile)
const support = await isLanSupported()
// CI runs as root with iproute2: there this test must run, never be skipped.
const skip = !support.ok && process.env.CI === undefined ? support.reason : false

// This process's only (each test file runs in a process of its own): other tests and engineers make namespaces meanwhile.
const namespaces = async (): Promise<string[]> => (await run('ip', ['netns', 'list'])).stdout.split('\n').map(l => l.split(' ')[0]).filter(n => n.startsWith(`coints-${process.pid}-`))

test('a LAN whose namespace name is taken fails to build and removes only what it made', { skip }, async t => {
  // This process's first LAN will want this name for its switch; the test makes it first.
  const taken = `coints-${process.pid}-0-sw`
  await run('ip', ['netns', 'add', taken])
  t.after(async () => { await run('ip', ['netns', 'del', taken]).catch(() => {}) })
  await assert.rejects(Lan.create(2), /File exists/)
  assert.ok((await namespaces()).includes(taken), 'a namespace the LAN did not make is left alone')
  // The next LAN gets names of its own, builds, and takes everything it made with it.
  const before = await namespaces()
  const lan = await Lan.create(2)
  assert.equal((await namespaces()).length, before.length + 3)
  await lan.destroy()
  assert.deepEqual((await namespaces()).sort(), before.sort())
  const { stdout } = await run('ip', ['-o', 'link'])
  assert.doesNotMatch(stdout, new RegExp(`v${process.pid % 100_000}x`), 'no veth of the LAN in the machine\'s namespace')
})
