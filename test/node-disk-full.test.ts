/**
 * A full disk, made with a small tmpfs datadir (root: as CI runs): the node
 * shuts down cleanly with the reason instead of failing every write, and once
 * space is freed it starts again with nothing lost up to its last flush.
 */
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, open, rm, statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { test, type TestContext } from 'node:test'
import { callRpc } from '../src/rpc/client.ts'
import { freePort } from '../src/util/free-port.ts'
import { newKey, waitFor } from './helpers/node-harness.ts'

const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname
const run = promisify(execFile)
const skip = process.getuid?.() !== 0 ? 'mounting a tmpfs needs root' : false

interface Disk { dir: string, nodes: Set<ChildProcess> }

/** A tmpfs of `mb` MB; after the test its nodes are killed, then it is unmounted. */
async function tmpfs (t: TestContext, mb: number): Promise<Disk> {
  const disk: Disk = { dir: await mkdtemp(join(tmpdir(), 'coints-tmpfs-')), nodes: new Set() }
  await run('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', disk.dir])
  t.after(async () => {
    for (const child of disk.nodes) {
      if (child.exitCode !== null || child.signalCode !== null) continue
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
    await run('umount', [disk.dir])
    await rm(disk.dir, { recursive: true, force: true })
  })
  return disk
}

interface NodeChild { child: ChildProcess, exited: Promise<[number | null, string | null]>, stderr: () => string, rpc: (method: string, params?: unknown[]) => Promise<unknown> }

/** `coints node` on `datadir` without networking; resolves once its RPC answers, or once it exited. */
async function startNode (disk: Disk, minFreeMb: number, address: string): Promise<NodeChild> {
  const port = await freePort()
  const datadir = join(disk.dir, 'node')
  const child = spawn(process.execPath, [MAIN, 'node', '--network', 'regtest', '--datadir', datadir, '--rpc-port', String(port), '--no-p2p', '--min-free-mb', String(minFreeMb), '--miner-address', address, '--log-level', 'error'], { stdio: ['ignore', 'ignore', 'pipe'] })
  disk.nodes.add(child)
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>
  const node: NodeChild = { child, exited, stderr: () => stderr, rpc: async (method, params = []) => await callRpc({ datadir, port }, method, params) }
  await waitFor(async () => child.exitCode !== null || await node.rpc('getblockchaininfo').then(() => true, () => false), 'the node to answer RPC or exit')
  return node
}

/** Writes zeros until only `leaveBytes` are free (or the disk is full). */
async function fill (dir: string, leaveBytes: number): Promise<string> {
  const path = join(dir, 'filler')
  const file = await open(path, 'w')
  const chunk = Buffer.alloc(256 * 1024)
  try {
    for (;;) {
      const fs = await statfs(dir)
      const room = fs.bavail * fs.bsize - leaveBytes
      if (room <= 0) break
      await file.write(chunk, 0, Math.min(chunk.length, room))
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    await file.close()
  }
  return path
}

/** Mines until the node exits by itself; returns its exit code. */
async function mineUntilExit (node: NodeChild): Promise<number | null> {
  await waitFor(async () => {
    if (node.child.exitCode !== null) return true
    await node.rpc('generate', [1]).catch(() => {})
    return false
  }, 'the node to shut down on a full disk', 60_000)
  return (await node.exited)[0]
}

async function flushedState (node: NodeChild): Promise<{ height: number, tip: string }> {
  // verifychain writes what memory holds first: the state every restart must keep.
  const check = await node.rpc('verifychain') as { ok: boolean, height: number }
  assert.equal(check.ok, true)
  return { height: check.height, tip: (await node.rpc('getblockchaininfo') as { tip: string }).tip }
}

async function assertRecovered (disk: Disk, minFreeMb: number, address: string, flushed: { height: number, tip: string }): Promise<void> {
  const again = await startNode(disk, minFreeMb, address)
  assert.equal(again.child.exitCode, null, again.stderr())
  assert.equal(await again.rpc('getblockhash', [flushed.height]), flushed.tip, 'the flushed tip is on the chain again')
  const check = await again.rpc('verifychain') as { ok: boolean, height: number }
  assert.equal(check.ok, true)
  assert.ok(check.height >= flushed.height)
  await again.rpc('generate', [1])
  await again.rpc('stop')
  assert.deepEqual(await again.exited, [0, null])
}

/** A node on a tmpfs of `mb` MB mines 30 blocks and flushes, then the disk fills up to `leaveBytes` free and it mines on until it shuts down. */
async function mineOntoFullDisk (t: TestContext, mb: number, minFreeMb: number, leaveBytes: number): Promise<{ disk: Disk, address: string, node: NodeChild, flushed: { height: number, tip: string }, filler: string }> {
  const disk = await tmpfs(t, mb)
  const { address } = newKey()
  const node = await startNode(disk, minFreeMb, address)
  await node.rpc('generate', [30])
  const flushed = await flushedState(node)
  const filler = await fill(disk.dir, leaveBytes)
  assert.equal(await mineUntilExit(node), 1)
  return { disk, address, node, flushed, filler }
}

test('below --min-free-mb the node stops accepting blocks and shuts down with the reason; it refuses to start until space is freed, then resumes', { skip }, async t => {
  const { disk, address, node, flushed, filler } = await mineOntoFullDisk(t, 40, 16, 10 * 1024 * 1024)
  assert.match(node.stderr(), /coints: DISK_FULL: only \d+\.\d MB free on the disk of .*, below the 16\.0 MB the node keeps free \(--min-free-mb\)/)

  const early = await startNode(disk, 16, address)
  assert.deepEqual(await early.exited, [1, null])
  assert.match(early.stderr(), /DISK_FULL/)

  await rm(filler)
  await assertRecovered(disk, 16, address, flushed)
})

test('a write that fails with ENOSPC shuts the node down with the reason; after space is freed it resumes from its last flush', { skip }, async t => {
  const { disk, address, node, flushed, filler } = await mineOntoFullDisk(t, 24, 0, 0)
  assert.match(node.stderr(), /coints: DISK_FULL: .* failed: the disk is full \(.*No space left on device/)
  await rm(filler)
  await assertRecovered(disk, 0, address, flushed)
})
