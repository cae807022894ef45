/**
 * Logs that tell the story: a node syncing from another prints its progress
 * (target, percent, blocks/s, time left) and its done line; a peer connecting
 * and leaving prints both lines, with the transport; --log-format json and
 * --log-file give the same lines to tools. And the progress line itself: one
 * line rewritten in place on a terminal, throttled elsewhere.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { configureLogging, createLogger, createProgress } from '../src/log.ts'
import { freePort } from '../src/util/free-port.ts'
import { addrOf, newKey, startNode, waitFor } from './helpers/node-harness.ts'

const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname

async function jsonLines (file: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(file, 'utf8').catch(() => '')
  return text.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>)
}

test('a node syncing from another logs its progress and its end; a peer that connects and leaves, both lines', async t => {
  const key = newKey()
  const source = await startNode(t, { minerAddress: key.address })
  await source.miner.mineBlocks(400, key.addressHash)
  const dir = await mkdtemp(join(tmpdir(), 'coints-logs-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'node.log')
  const child = spawn(process.execPath, [MAIN, 'node', '--network', 'regtest', '--datadir', join(dir, 'data'), '--rpc-port', String(await freePort()),
    '--listen', '/ip4/127.0.0.1/tcp/0', '--no-http', '--bootstrap', addrOf(source), '--log-format', 'json', '--log-file', file], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', chunk => { stderr += String(chunk) })
  t.after(() => { child.kill('SIGKILL') })

  const done = await waitFor(async () => (await jsonLines(file)).find(l => l.event === 'sync-done'), `the sync's done line (${stderr.slice(-500)})`, 60_000)
  assert.equal(done.height, 400)
  assert.equal(done.target, 400)
  assert.equal(done.blocks, 400)
  assert.equal(done.peer, source.p2p?.libp2p.peerId.toString())
  assert.match(String(done.msg), /^sync done: height 400 \(tip bafy\w+\), 400 blocks from 12D3\w+ in \d+\.\d s \(\d+ blocks\/s\)$/)
  const lines = await jsonLines(file)
  const progress = lines.filter(l => l.event === 'sync')
  assert.ok(progress.length >= 1, 'at least one progress line')
  for (const p of progress) {
    assert.equal(p.target, 400)
    assert.equal(typeof p.percent, 'number')
    assert.equal(typeof p.blocksPerSecond, 'number')
    assert.match(String(p.msg), /^syncing: height \d+ of 400 \(\d+\.\d %\), \d+ blocks\/s, (about .+ left|time left unknown), from 12D3\w+$/)
  }
  // During the sync, new tips are not one line each at info.
  assert.ok(lines.filter(l => l.event === 'tip' && l.level === 'info').length < 10, 'the sync did not log each block')
  const connected = lines.find(l => l.event === 'peer-connected')
  assert.ok(connected !== undefined, 'the peer-connected line')
  assert.equal(connected.peer, source.p2p?.libp2p.peerId.toString())
  assert.equal(connected.transport, 'tcp')
  assert.equal(connected.direction, 'outbound')
  assert.match(String(connected.msg), /^peer connected: 12D3\w+, outbound over tcp \(\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3\w+\); 1 peer$/)
  // The same lines went to stderr, as JSON.
  assert.match(stderr, /"event":"sync-done"/)

  // The peer leaves: its line says for how long it was there.
  await source.stop()
  const left = await waitFor(async () => (await jsonLines(file)).find(l => l.event === 'peer-disconnected'), 'the peer-disconnected line', 30_000)
  assert.equal(left.peer, connected.peer)
  assert.equal(left.transport, 'tcp')
  assert.match(String(left.msg), /^peer disconnected: 12D3\w+, outbound over tcp, after \d+ s; 0 peers$/)
  assert.equal(child.exitCode, null, 'the node runs on alone')
})

test('progress: one line rewritten in place on a terminal; elsewhere a line every interval, and the done line always', async t => {
  const written: string[] = []
  const write = process.stderr.write.bind(process.stderr)
  const tty = process.stderr.isTTY
  t.after(() => {
    process.stderr.write = write
    process.stderr.isTTY = tty
    configureLogging({ level: 'silent', format: 'text' })
  })
  process.stderr.write = ((chunk: string) => { written.push(chunk); return true }) as typeof process.stderr.write
  configureLogging({ level: 'info', format: 'text' })

  process.stderr.isTTY = true
  const onTerminal = createProgress('sync', 60_000)
  onTerminal.update('syncing: 1 of 3')
  onTerminal.update('syncing: 2 of 3')
  createLogger('p2p').info('peer connected: x')
  onTerminal.done('sync done: 3')
  assert.equal(written.length, 5)
  assert.match(written[0], /^\r\x1b\[K\S+ INFO {2}sync: syncing: 1 of 3$/)
  assert.match(written[1], /^\r\x1b\[K\S+ INFO {2}sync: syncing: 2 of 3$/)
  // A line above the progress line, which is drawn again beneath it.
  assert.match(written[2], /^\r\x1b\[K\S+ INFO {2}p2p: peer connected: x\n\S+ INFO {2}sync: syncing: 2 of 3$/)
  assert.equal(written[3], '\r\x1b[K')
  assert.match(written[4], /^\S+ INFO {2}sync: sync done: 3\n$/)
  written.length = 0

  process.stderr.isTTY = false
  const elsewhere = createProgress('sync', 60_000)
  elsewhere.update('syncing: 1 of 3')
  elsewhere.update('syncing: 2 of 3')
  elsewhere.done('sync done: 3')
  assert.equal(written.length, 2)
  assert.match(written[0], /^\S+ INFO {2}sync: syncing: 1 of 3\n$/)
  assert.match(written[1], /^\S+ INFO {2}sync: sync done: 3\n$/)
})
