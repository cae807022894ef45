import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { isLanSupported } from '../src/swarm/netns.ts'
import { openInChromium } from './helpers/chromium.ts'
import { waitFor } from './helpers/node-harness.ts'

const run = promisify(execFile)
const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname
const support = await isLanSupported()
// CI runs as root with iproute2: the LAN swarm must run there, never be skipped.
const skipLan = !support.ok && process.env.CI === undefined ? support.reason : false

async function namespacesOf (pid: number): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list'])
  return stdout.split('\n').map(l => l.split(' ')[0]).filter(n => n.startsWith(`coints-${pid}-`))
}

async function swarm (args: string[]): Promise<{ code: number, report: Record<string, unknown>, stdout: string, stderr: string, pid: number }> {
  const child = spawn(process.execPath, [MAIN, 'swarm', '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number>(resolve => child.once('exit', c => { resolve(c ?? 1) }))
  const last = stdout.trim().split('\n').at(-1) ?? ''
  if (!last.startsWith('{')) throw new Error(`the swarm exited with ${code} and no report: ${stderr.slice(-2_000)}`)
  return { code, report: JSON.parse(last) as Record<string, unknown>, stdout, stderr, pid: child.pid as number }
}

test('a LAN swarm (5 nodes, 2 miners, found by mDNS) survives a partition and heal and a crash and restart, and converges', { skip: skipLan }, async () => {
  const { code, report, stdout, pid } = await swarm(['--mode', 'lan', '--nodes', '5', '--miners', '2', '--scenario', 'steady,partition,crash', '--phase-seconds', '4'])
  assert.equal(report.converged, true, stdout)
  assert.equal(code, 0)
  assert.equal(report.tips, 1)
  assert.ok((report.reorgs as number) >= 1, 'the heal reorganised the losing side')
  assert.ok((report.blockPropagationMs as { count: number }).count > 0)
  assert.match(stdout, /CONVERGED/)
  assert.deepEqual(await namespacesOf(pid), [], 'every namespace is removed')
})

const zooTools = await Promise.all(['iptables', 'nft', 'miniupnpd', 'stund'].map(async tool => await run('which', [tool]).then(() => undefined, () => tool)))
const zooMissing = zooTools.filter(t => t !== undefined)
// CI installs the zoo's daemons (.ci/run): there the NAT swarm must run, never be skipped.
const skipNat = skipLan !== false ? skipLan : zooMissing.length > 0 && process.env.CI === undefined ? `the NAT zoo needs ${zooMissing.join(', ')}` : false

test('a NAT swarm (2 public nodes, 4 behind port-restricted, UPnP and symmetric routers) connects every pair, converges, and reports pairs by NAT type', { skip: skipNat, timeout: 480_000 }, async () => {
  const { code, report, stdout, pid } = await swarm(['--mode', 'nat', '--nodes', '6', '--miners', '1', '--scenario', 'steady', '--phase-seconds', '20'])
  assert.equal(report.converged, true, stdout)
  assert.equal(code, 0)
  const nat = report.nat as { pairs: Record<string, { direct: number, relayed: number, unconnected: number }>, firstDirectMs: number | null, relayedBytes: number, directBytes: number }
  const counts = Object.values(nat.pairs)
  assert.equal(counts.reduce((n, c) => n + c.direct + c.relayed + c.unconnected, 0), 15, 'every pair of the 6 counted once')
  assert.deepEqual(counts.filter(c => c.unconnected > 0), [], `every pair connected: ${JSON.stringify(nat.pairs)}`)
  // A public end is dialled directly by anyone.
  for (const [kinds, c] of Object.entries(nat.pairs)) if (kinds.startsWith('public')) assert.equal(c.relayed, 0, `${kinds}: direct`)
  assert.deepEqual(Object.keys(nat.pairs).sort(), ['port-restricted + port-restricted', 'port-restricted + symmetric', 'public + port-restricted', 'public + public', 'public + symmetric', 'public + upnp', 'upnp + port-restricted', 'upnp + symmetric'].sort())
  assert.ok(nat.directBytes > 0)
  assert.match(stdout, /^ {2}pairs by NAT type +direct \/ relayed \/ unconnected$/m)
  assert.match(stdout, /^ {4}port-restricted \+ symmetric +\d+ \/ \d+ \/ 0$/m)
  assert.match(stdout, /^ {2}first direct connection +(\d+ ms after the start|none) \(between two hosts behind routers\)$/m)
  assert.match(stdout, /^ {2}bytes relayed \d+, direct \d+$/m)
  assert.deepEqual(await namespacesOf(pid), [], 'every namespace is removed')
})

test('a loopback swarm adds late nodes that sync; the report says "3 nodes + 2 late", counts every block mined and names each scenario as it passes', async () => {
  const { code, report, stdout, stderr } = await swarm(['--mode', 'loopback', '--nodes', '3', '--miners', '1', '--scenario', 'steady,late', '--late-nodes', '2', '--phase-seconds', '3'])
  assert.equal(code, 0, stderr)
  assert.equal(report.converged, true)
  assert.equal(report.nodes, 3)
  assert.equal(report.late, 2)
  assert.equal(report.running, 5)
  assert.match(stdout, /^swarm: 3 nodes \+ 2 late \(1 mining\), loopback, scenarios steady, late$/m)
  // No partition: every block mined is on the one chain, the first ones (maturing the coins) too.
  assert.equal(report.blocks, report.height)
  assert.match(stderr, /^swarm: scenario 1\/2: steady$/m)
  assert.match(stderr, /^swarm: steady done in \d+ s: \d+ blocks mined so far$/m)
  assert.match(stderr, /^swarm: scenario 2\/2: late$/m)
  assert.match(stderr, /^swarm: late: added 2 nodes$/m)
})

test('Ctrl-C stops every node and removes every namespace', { skip: skipLan }, async () => {
  const child = spawn(process.execPath, [MAIN, 'swarm', '--mode', 'lan', '--nodes', '3', '--scenario', 'steady', '--phase-seconds', '60'], { stdio: 'ignore' })
  const pid = child.pid as number
  const exited = new Promise<number | null>(resolve => child.once('exit', c => { resolve(c) }))
  await waitFor(async () => (await namespacesOf(pid)).length >= 4, 'the swarm\'s namespaces', 30_000)
  child.kill('SIGINT')
  assert.equal(await exited, 130)
  assert.deepEqual(await namespacesOf(pid), [])
})

test('a timeline with a skewed clock, a partition, a crash and a late join converges; --report writes a page Chromium draws every plot of; the same seed makes the same choices', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-swarm-test-'))
  try {
    const file = join(dir, 'timeline.json')
    // Partition groups and the crashed node are left to the seed.
    await writeFile(file, JSON.stringify({
      nodes: 4,
      miners: 2,
      seed: 12345,
      'tx-rate': 2,
      timeline: [
        { at: 0, do: 'skew', node: 3, seconds: 900 },
        { at: 3, do: 'partition' },
        { at: 7, do: 'heal' },
        { at: 8, do: 'crash' },
        { at: 10, do: 'restart' },
        { at: 11, do: 'add', nodes: 1 },
        { at: 14, do: 'end' }
      ]
    }))
    const html = join(dir, 'report.html')
    const first = await swarm(['--scenario-file', file, '--report', html])
    assert.equal(first.code, 0, first.stdout + first.stderr)
    assert.equal(first.report.converged, true)
    assert.equal(first.report.running, 5)
    assert.equal(first.report.seed, 12345)
    assert.match(first.stderr, /^swarm: skew: node 3 runs 900 s off$/m)
    assert.match(first.stdout, /^report written to /m)
    const choices = first.report.choices as { faults: string[], miners: number[] }
    assert.equal(choices.faults.length, 2, 'the partition\'s groups and the crashed node')
    assert.match(choices.faults[1], /^crash [0-3]$/)

    const { page, errors, close } = await openInChromium(pathToFileURL(html).href)
    try {
      const plots = await page.$$eval('svg[data-plot]', svgs => svgs.map(s => ({ plot: s.getAttribute('data-plot'), points: Number(s.getAttribute('data-points')), drawn: s.querySelectorAll('path, circle').length })))
      assert.deepEqual(plots.map(p => p.plot), ['heights', 'propagation', 'peers', 'reorgs'])
      for (const p of plots) {
        assert.ok(p.points > 0 && p.drawn > 0, `plot ${p.plot} has data: ${JSON.stringify(p)}`)
      }
      // The heights plot marks every fault of the timeline.
      assert.equal(await page.locator('svg[data-plot="heights"] line.mark').count(), 6)
      const shot = join(dir, 'report.png')
      await page.screenshot({ path: shot, fullPage: true })
      assert.ok((await stat(shot)).size > 10_000)
      assert.deepEqual(errors, [])
    } finally {
      await close()
    }
    assert.doesNotMatch(await readFile(html, 'utf8'), /<script|https?:\/\//, 'nothing to run or fetch')

    const second = await swarm(['--scenario-file', file])
    assert.equal(second.code, 0, second.stdout + second.stderr)
    const again = second.report.choices as { faults: string[], miners: number[] }
    assert.deepEqual(again.faults, choices.faults)
    // Timing decides how many blocks each run mines, never which node mines the nth.
    const n = Math.min(again.miners.length, choices.miners.length)
    assert.ok(n >= 5)
    assert.deepEqual(again.miners.slice(0, n), choices.miners.slice(0, n))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a loopback swarm of nodes sharing processes (2 a process) survives the crash and restart of a node that shares one, converges, says how it hosted them, and repeats its choices with the same seed', async () => {
  const args = ['--mode', 'loopback', '--nodes', '4', '--miners', '1', '--nodes-per-process', '2', '--scenario', 'steady,crash', '--phase-seconds', '3', '--seed', '777']
  const first = await swarm(args)
  assert.equal(first.code, 0, first.stdout + first.stderr)
  assert.equal(first.report.converged, true)
  assert.equal(first.report.running, 4)
  assert.equal(first.report.nodesPerProcess, 2)
  assert.equal(first.report.processes, 2)
  assert.deepEqual(first.report.errors, [])
  assert.match(first.stdout, /^ {2}node settings +.*; up to 2 nodes a process \(2 processes\)$/m)
  // The victim is a node that does not mine: each of them shares a process with another node.
  const choices = first.report.choices as { faults: string[], miners: number[] }
  assert.match(choices.faults[0], /^crash [1-3]$/)
  assert.match(first.stderr, /^swarm: crash: restarted node [1-3]$/m)
  assert.ok((first.report.rssPerNodeMb as number) > 0)
  assert.ok((first.report.cpuSecondsPerNodeMinute as number) > 0)

  const second = await swarm(args)
  assert.equal(second.code, 0, second.stdout + second.stderr)
  const again = second.report.choices as { faults: string[], miners: number[] }
  assert.deepEqual(again.faults, choices.faults)
  const n = Math.min(again.miners.length, choices.miners.length)
  assert.deepEqual(again.miners.slice(0, n), choices.miners.slice(0, n))
})

test('--nodes-per-process is refused outside loopback mode', async () => {
  await assert.rejects(run(process.execPath, [MAIN, 'swarm', '--mode', 'lan', '--nodes-per-process', '2']), (err: { code: number, stderr: string }) => {
    assert.equal(err.code, 2)
    assert.match(err.stderr, /--nodes-per-process is for --mode loopback/)
    return true
  })
})
