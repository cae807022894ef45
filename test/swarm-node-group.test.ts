import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NodeGroupProcess, SharedHost, waitForRpc } from '../src/swarm/hosts.ts'

test('a node of a group that fails to start ends the wait for its RPC at once, saying why', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-node-group-'))
  const group = new NodeGroupProcess(join(dir, 'group0'))
  const host = new SharedHost(0, join(dir, 'node0'), group)
  try {
    await host.start(['--no-such-flag'])
    const began = Date.now()
    // The deadline is far beyond a failed start: only the group's notice can end the wait before it.
    await assert.rejects(waitForRpc(host, 60_000, 20), (err: Error) => {
      assert.match(err.message, /node 0 ended before it answered RPC: .*no-such-flag/)
      return true
    })
    assert.ok(Date.now() - began < 30_000, 'the wait ended with the notice, not at its deadline')
    assert.equal(host.alive, false)
    assert.match(group.errors.join('\n'), /node 0: .*no-such-flag/)
  } finally {
    await host.stop()
    await group.close()
    await rm(dir, { recursive: true, force: true })
  }
})
