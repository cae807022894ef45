/**
 * Power loss, not a process kill: the chain's datadir lives on a FUSE file
 * system (test/fixtures/powercut-fs.py) that keeps what was not fsynced apart
 * and, at the cut, keeps only a random prefix of it (the last write possibly
 * torn). The kernel here has no device mapper (dm-flakey, dm-log-writes);
 * FUSE, /dev/fuse and Debian's python3-fusepy (installed by .ci/run) give the
 * same: the disk as it could be after the power went at that moment.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { buildChain } from '../src/node/build-chain.ts'
import { StoreError } from '../src/chain/records.ts'
import { regtest } from './helpers/chain-harness.ts'
import { killAll, runAndKill, seededRandom } from './helpers/crash-miner-run.ts'

const PYTHON = '/usr/bin/python3'
const FS = fileURLToPath(new URL('./fixtures/powercut-fs.py', import.meta.url))
const ROUNDS = 4

function whyNot (): string | false {
  if (process.getuid?.() !== 0) return 'mounting FUSE needs root'
  try {
    execFileSync(PYTHON, ['-c', 'import fusepy'], { stdio: 'ignore' })
  } catch {
    return `${PYTHON} has no fusepy (apt-get install python3-fusepy, as .ci/run does)`
  }
  return false
}

/** Mounts the power-cut file system over `durable`; resolves once it is mounted. */
async function mount (children: Set<ChildProcess>, durable: string, live: string, mnt: string, seed: number): Promise<{ cut: () => Promise<string> }> {
  const fs = spawn(PYTHON, [FS, durable, live, mnt, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(fs)
  const exited = once(fs, 'exit')
  let stderr = ''
  fs.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const lines = createInterface({ input: fs.stdout as NodeJS.ReadableStream })
  const said: string[] = []
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`the FUSE file system did not mount; stderr: ${stderr}`)) }, 20_000)
    lines.on('line', line => {
      said.push(line)
      if (line === 'ready') { clearTimeout(timer); resolve() }
    })
    fs.once('exit', code => { clearTimeout(timer); reject(new Error(`the FUSE file system exited (${code}); stderr: ${stderr}`)) })
  })
  return {
    // The power goes: the mount ends, and what the disk kept is in `durable`.
    cut: async () => {
      fs.kill('SIGTERM')
      const [code] = await exited as [number | null]
      children.delete(fs)
      assert.equal(code, 0, stderr)
      return said.find(line => line.startsWith('cut ')) ?? '?'
    }
  }
}

test('power cuts at random moments while mining, spending and reorganising: the chain restarts with every flushed block and verifies', { skip: whyNot() }, async t => {
  const children = new Set<ChildProcess>()
  const dir = await mkdtemp(join(tmpdir(), 'coints-powercut-'))
  const [durable, live, mnt] = ['durable', 'live', 'mnt'].map(d => join(dir, d))
  t.after(async () => {
    await killAll(children)
    // Unmounted at each cut; only a failure on the way leaves it mounted.
    try {
      execFileSync('umount', ['-l', mnt], { stdio: 'ignore' })
    } catch {}
  })
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  for (const d of [durable, mnt]) await mkdir(d)
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31)
  const random = seededRandom(seed)
  let blocks = 0
  let reorgs = 0
  for (let round = 0; round < ROUNDS; round++) {
    const disk = await mount(children, durable, live, mnt, seed + round)
    const killAfter = round === 0 ? 30 + random(20) : 5 + random(30)
    const delayMs = random(3) === 0 ? 0 : random(40)
    // Every tip move flushed: each printed block is a flush the cut must not lose.
    const log = await runAndKill(children, join(mnt, 'chain'), killAfter, delayMs, ['--flush-each-block'])
    const cut = await disk.cut()
    const what = `round ${round} (seed ${seed}, kill after ${killAfter} blocks + ${delayMs} ms, ${cut})`
    blocks += log.blocks
    reorgs += log.reorgs
    await access(join(durable, 'chain.marker'))

    // The machine is back: the chain starts on what the disk kept.
    let chain = buildChain({ params: regtest, dbPath: join(durable, 'chain'), verifierThreads: 1 }).chain
    try {
      await chain.start()
    } catch (err) {
      // Refused is acceptable only with a coded error that --reindex then repairs; a silent wrong start never is.
      assert.ok(err instanceof StoreError && err.code.startsWith('CORRUPT_'), `${what}: ${String(err)}`)
      chain = buildChain({ params: regtest, dbPath: join(durable, 'chain'), verifierThreads: 1, reindex: true }).chain
      await chain.start()
    }
    try {
      const check = await chain.verifyChain()
      assert.equal(check.ok, true, `${what}: ${check.mismatches.join('\n')}`)
      assert.ok(chain.height >= log.lastBlockHeight, `${what}: restarted at ${chain.height}, below the flushed ${log.lastBlockHeight}`)
    } finally {
      await chain.stop()
    }
    t.diagnostic(`${what}: ${log.blocks} blocks, restarted at ${chain.height} (last printed ${log.lastBlockHeight})`)
  }
  assert.ok(blocks >= ROUNDS * 5)
  assert.ok(reorgs > 0, 'the miner reorganised')
})
