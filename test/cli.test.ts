import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { rpcArg } from '../src/cli/commands/rpc.ts'
import { freePort } from '../src/util/free-port.ts'
import { newKey, rpc, startNode, tempDatadir, waitFor } from './helpers/node-harness.ts'

const run = promisify(execFile)
const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname
const BIN = new URL('../bin/coints.js', import.meta.url).pathname
// The launcher keeps V8's compile cache in the user's cache dir (bin/compile-cache.js): this file's launchers use a temp one.
const CACHE_HOME = await mkdtemp(join(tmpdir(), 'coints-cli-cache-'))
after(async () => { await rm(CACHE_HOME, { recursive: true, force: true }) })
const LAUNCHER_ENV = { ...process.env, XDG_CACHE_HOME: CACHE_HOME }

async function coints (args: string[], env: Record<string, string> = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, timeout: 120_000, killSignal: 'SIGKILL' })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

test('the launcher runs on the system Node (v20) by re-executing on the bundled Node 24', async t => {
  const systemNode = ['/usr/bin/node', '/usr/local/bin/node'].find(p => existsSync(p))
  if (systemNode === undefined) return t.skip('no system node')
  const { stdout } = await run(systemNode, [BIN, '--help'], { env: LAUNCHER_ENV })
  assert.match(stdout, /usage: coints <command>/)
})

test('npm on the system Node (v20) finds coints\'s declared engines met: the bundled Node 24 runs it', async t => {
  const systemNpm = ['/usr/bin/npm', '/usr/local/bin/npm'].find(p => existsSync(p))
  if (systemNpm === undefined) return t.skip('no system npm')
  // A dry run changes nothing; npm checks every package's engines against the Node that runs it.
  const { stdout, stderr } = await run(systemNpm, ['install', '--dry-run', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], {
    cwd: new URL('..', import.meta.url).pathname,
    env: { ...process.env, PATH: `${dirname(systemNpm)}:${process.env.PATH ?? ''}` }
  })
  assert.doesNotMatch(stdout + stderr, /EBADENGINE[^\n]*\n[^\n]*package: 'coints@/)
})

test('coints rpc arguments: integers, booleans, null and JSON as JSON; amounts and other text as typed', () => {
  assert.equal(rpcArg('12'), 12)
  assert.equal(rpcArg('true'), true)
  assert.equal(rpcArg('null'), null)
  assert.deepEqual(rpcArg('["a",1]'), ['a', 1])
  assert.equal(rpcArg('1.5'), '1.5', 'an amount travels as text, never a float')
  assert.equal(rpcArg('0.00000001'), '0.00000001')
  assert.equal(rpcArg('1e3'), '1e3')
  assert.equal(rpcArg('9007199254740993'), '9007199254740993', 'an integer a double cannot hold stays exact')
  assert.equal(rpcArg('bcrt1qxyz'), 'bcrt1qxyz')
})

test('help, unknown commands and bad flags explain themselves and exit non-zero', async () => {
  assert.match((await coints(['node', '--help'])).stdout, /--miner-address ADDR/)
  assert.match((await coints(['wallet', '--help'])).stdout, /coints wallet send ADDRESS AMOUNT/)
  const unknown = await coints(['frobnicate'])
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /unknown command "frobnicate"/)
  const badFlag = await coints(['node', '--no-such-flag'])
  assert.equal(badFlag.code, 2)
  assert.match(badFlag.stderr, /no-such-flag/)
  const badNetwork = await coints(['node', '--no-http', '--network', 'mainnet'])
  assert.equal(badNetwork.code, 2)
  const noNode = await coints(['rpc', '--network', 'regtest', '--datadir', join(tmpdir(), 'coints-nowhere'), 'getblockchaininfo'])
  assert.equal(noNode.code, 1)
  assert.match(noNode.stderr, /no RPC cookie/)
})

test('a config file sets flags; a malformed one is a clear error', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-cli-config-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(join(dir, 'bad.json'), '{ "mine": ')
  const bad = await coints(['node', '--config', join(dir, 'bad.json')])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /not valid JSON/)
  await writeFile(join(dir, 'unknown.json'), '{ "colour": "blue" }')
  assert.match((await coints(['node', '--config', join(dir, 'unknown.json')])).stderr, /unknown key "colour"/)
})

test('coints node, rpc and wallet drive a regtest node; SIGTERM stops it cleanly and a restart resumes', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-cli-'))
  const port = String(await freePort())
  const nodeArgs = ['node', '--no-http', '--network', 'regtest', '--datadir', dir, '--rpc-port', port, '--no-p2p', '--log-level', 'warn']
  const target = ['--network', 'regtest', '--datadir', dir, '--rpc-port', port]
  const start = async (): Promise<ReturnType<typeof spawn>> => {
    const child = spawn(process.execPath, [MAIN, ...nodeArgs], { stdio: 'ignore' })
    t.after(() => { child.kill('SIGKILL') })
    await waitFor(async () => (await coints(['rpc', ...target, 'getblockchaininfo'])).code === 0, 'the node to answer RPC')
    return child
  }
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  let child = await start()

  const env = { COINTS_PASSPHRASE: 'correct horse' }
  const created = await coints(['wallet', 'create', ...target], env)
  assert.equal(created.code, 0, created.stderr)
  assert.match(created.stdout, /mnemonic/)
  assert.equal((await coints(['rpc', ...target, 'generate', '12'])).code, 0)
  const balance = JSON.parse((await coints(['wallet', 'balance', '--json', ...target])).stdout) as Record<string, string>
  assert.deepEqual(balance, { confirmed: '150', unconfirmed: '0', immature: '450' })

  const badSend = await coints(['wallet', 'send', 'rcoin1notanaddress', '1', ...target], env)
  assert.equal(badSend.code, 1)
  assert.match(badSend.stderr, /BAD_ADDRESS/)
  const to = (await coints(['wallet', 'address', ...target])).stdout.trim()
  const sent = await coints(['wallet', 'send', to, '2.5', ...target], env)
  assert.equal(sent.code, 0, sent.stderr)
  assert.match((await coints(['wallet', 'history', ...target])).stdout, /send/)
  const missing = await coints(['rpc', ...target, 'getblockhash', '999'])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /no block at height 999/)

  const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  child.kill('SIGTERM')
  assert.equal(await exited, 0)
  assert.equal(existsSync(join(dir, '.cookie')), false, 'the cookie is removed on a clean stop')

  child = await start()
  const info = JSON.parse((await coints(['rpc', ...target, 'getblockchaininfo'])).stdout) as { height: number }
  assert.equal(info.height, 12)
  assert.equal(JSON.parse((await coints(['rpc', ...target, 'verifychain'])).stdout).ok, true)
  // Listen before asking: the node may be gone before `coints rpc stop` itself exits.
  const stopped = new Promise(resolve => child.once('exit', resolve))
  assert.equal((await coints(['rpc', ...target, 'stop'])).code, 0)
  await stopped
})

test('coints wallet restore takes the mnemonic from COINTS_MNEMONIC (or the terminal), off the command line', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-cli-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const port = String(await freePort())
  const target = ['--network', 'regtest', '--datadir', dir, '--rpc-port', port]
  const child = spawn(process.execPath, [MAIN, 'node', '--no-http', ...target, '--no-p2p', '--log-level', 'warn'], { stdio: 'ignore' })
  t.after(() => { child.kill('SIGKILL') })
  await waitFor(async () => (await coints(['rpc', ...target, 'getblockchaininfo'])).code === 0, 'the node to answer RPC')

  // No words, no variable and no terminal: a usage error naming the variable, nothing restored.
  const none = await coints(['wallet', 'restore', ...target], { COINTS_PASSPHRASE: 'pw' })
  assert.equal(none.code, 2)
  assert.match(none.stderr, /COINTS_MNEMONIC/)
  const mnemonic = ` ${Array(23).fill('abandon').join(' ')}  art\n`
  const restored = await coints(['wallet', 'restore', '--json', ...target], { COINTS_PASSPHRASE: 'pw', COINTS_MNEMONIC: mnemonic })
  assert.equal(restored.code, 0, restored.stderr)
  assert.equal(JSON.parse(restored.stdout).txcount, 0)
  const exited = new Promise(resolve => child.once('exit', resolve))
  assert.equal((await coints(['rpc', ...target, 'stop'])).code, 0)
  await exited
})

test('start-up failures are one line saying what is wrong and what to do, with exit status 1 (2 for a bad flag)', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-cli-start-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const held = createServer()
  await new Promise<void>(resolve => held.listen(0, '127.0.0.1', resolve))
  t.after(() => { held.close() })
  const busy = (held.address() as { port: number }).port
  const free = async (): Promise<string> => String(await freePort())
  const node = async (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> => await coints(['node', '--no-http', '--network', 'regtest', '--datadir', join(dir, 'a'), ...args])

  assert.deepEqual(await node('--rpc-port', await free(), '--listen', `/ip4/127.0.0.1/tcp/${busy}`), {
    code: 1, stdout: '', stderr: `coints: PORT_IN_USE: Unable to bind to 127.0.0.1:${busy} on this computer. coints is probably already running (or give another peer-to-peer port: --listen /ip4/127.0.0.1/tcp/PORT).\n`
  })
  assert.deepEqual(await node('--rpc-port', String(busy), '--listen', `/ip4/127.0.0.1/tcp/${await free()}`), {
    code: 1, stdout: '', stderr: `coints: PORT_IN_USE: Unable to bind to 127.0.0.1:${busy} on this computer. coints is probably already running (or give another RPC port: --rpc-port N).\n`
  })
  assert.deepEqual(await coints(['node', '--network', 'regtest', '--datadir', join(dir, 'a'), '--rpc-port', await free(), '--no-p2p', '--http', `127.0.0.1:${busy}`]), {
    code: 1, stdout: '', stderr: `coints: PORT_IN_USE: Unable to bind to 127.0.0.1:${busy} on this computer. coints is probably already running (or give another HTTP address: --http HOST:PORT, or --no-http).\n`
  })
  assert.deepEqual(await coints(['node', '--network', 'regtest', '--http', 'localhost:80']), {
    code: 2, stdout: '', stderr: 'coints: --http must be an IP address with an optional port (e.g. 127.0.0.1:9445, [::1]:9445), got "localhost:80"\n'
  })
  assert.deepEqual(await node('--listen', 'notamultiaddr'), {
    code: 2, stdout: '', stderr: 'coints: --listen: "notamultiaddr" is not a multiaddr (String multiaddr must start with "/"); e.g. /ip4/0.0.0.0/tcp/9444\n'
  })
  await writeFile(join(dir, 'file'), '')
  assert.deepEqual(await coints(['node', '--no-http', '--network', 'regtest', '--datadir', join(dir, 'file', 'x'), '--rpc-port', await free(), '--no-p2p']), {
    code: 1, stdout: '', stderr: `coints: BAD_DATADIR: Cannot use the datadir ${join(dir, 'file', 'x')}: part of its path is a file (give another with --datadir).\n`
  })

  // /proc makes no directories: Node's recursive mkdir spins on its ENOENT, ours gives up.
  assert.deepEqual(await coints(['node', '--network', 'regtest', '--datadir', '/proc/coints-x', '--rpc-port', await free(), '--no-p2p']), {
    code: 1, stdout: '', stderr: 'coints: BAD_DATADIR: Cannot use the datadir /proc/coints-x: no directory can be made there (give another with --datadir).\n'
  })

  // A second node on a running node's datadir (its own ports): the datadir is in use.
  const rpcPort = await free()
  const first = spawn(process.execPath, [MAIN, 'node', '--no-http', '--network', 'regtest', '--datadir', join(dir, 'a'), '--rpc-port', rpcPort, '--no-p2p', '--log-level', 'warn'], { stdio: 'ignore' })
  t.after(() => { first.kill('SIGKILL') })
  await waitFor(async () => (await coints(['rpc', '--network', 'regtest', '--datadir', join(dir, 'a'), 'getblockcount'])).code === 0, 'the first node to answer RPC')
  assert.deepEqual(await node('--rpc-port', await free(), '--no-p2p'), {
    code: 1, stdout: '', stderr: `coints: DATADIR_IN_USE: The datadir ${join(dir, 'a')} is in use by process ${first.pid}. coints is probably already running (stop it, or give another --datadir).\n`
  })
})

test('coints rpc, wallet and status find a node on any port from its datadir or its config file; --version; help METHOD', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-cli-port-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const port = String(await freePort())
  await writeFile(join(dir, 'node.json'), JSON.stringify({ network: 'regtest', datadir: dir, 'rpc-port': Number(port), p2p: false, http: false, 'log-level': 'warn' }))
  const child = spawn(process.execPath, [MAIN, 'node', '--no-http', '--config', join(dir, 'node.json')], { stdio: 'ignore' })
  t.after(() => { child.kill('SIGKILL') })
  // The datadir alone: the node wrote its RPC port beside the cookie.
  const byDatadir = ['--network', 'regtest', '--datadir', dir]
  await waitFor(async () => (await coints(['rpc', ...byDatadir, 'getblockcount'])).code === 0, 'the node to answer RPC on a port the command was not told')
  assert.equal((await coints(['rpc', '--config', join(dir, 'node.json'), 'getblockcount'])).stdout, '0\n')
  const created = await coints(['wallet', 'create', '--config', join(dir, 'node.json')], { COINTS_PASSPHRASE: 'pw' })
  assert.equal(created.code, 0, created.stderr)

  assert.equal((await coints(['--version'])).stdout, `coints ${JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')).version}\n`)
  const status = await coints(['status', ...byDatadir])
  assert.equal(status.code, 0, status.stderr)
  assert.match(status.stdout, /^coints 0\.2\.0, regtest node on 127\.0\.0\.1:\d+, up /)
  for (const line of [/^chain {7}regtest, height 0 \(headers 0\)/m, /^mining {6}no$/m, /^network {5}off \(--no-p2p\)$/m, /^wallet {6}0 confirmed, 0 unconfirmed, 0 immature; locked$/m]) assert.match(status.stdout, line)
  const json = JSON.parse((await coints(['status', '--json', ...byDatadir])).stdout)
  assert.equal(json.chain.blocks, 0)
  assert.equal(json.network, null)
  assert.equal((await coints(['rpc', ...byDatadir, 'help', 'getblockcount'])).stdout, 'getblockcount\n\nHeight of the best chain (blocks after genesis).\n')

  // A negative amount is an amount (not a flag), and arguments given the wrong way round say so once, whole.
  const to = newKey().address
  const negative = await coints(['wallet', 'send', to, '-1', ...byDatadir], { COINTS_PASSPHRASE: 'pw' })
  assert.equal(negative.code, 1)
  assert.equal(negative.stderr, 'coints: BAD_AMOUNT: sendtoaddress param "amount": amount must not be negative, got "-1"\n')
  const swapped = await coints(['wallet', 'send', '1', to, ...byDatadir], { COINTS_PASSPHRASE: 'pw' })
  assert.equal(swapped.stderr, `coints: BAD_AMOUNT: sendtoaddress param "amount": amount must be a decimal string of coins with at most 8 decimals, got "${to}"\n`)
})

/** Whether a process runs (a zombie, exited but not yet reaped by its new parent, does not). */
function running (pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

test('the launcher\'s node keeps V8\'s compile cache in the user\'s cache dir, written once it runs, for the next start to load its modules from', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-launcher-cache-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const { NODE_COMPILE_CACHE: _, ...env } = process.env
  const cache = join(dir, 'coints', 'compile-cache')
  const args = ['node', '--no-http', '--no-p2p', '--network', 'regtest', '--datadir', join(dir, 'node'), '--rpc-port', String(await freePort()), '--log-level', 'warn']
  const launcher = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore', env: { ...env, XDG_CACHE_HOME: dir } })
  t.after(() => { launcher.kill('SIGKILL') })
  const exited = once(launcher, 'exit')
  await waitFor(async () => {
    const found = await readdir(cache, { recursive: true, withFileTypes: true }).catch(() => [])
    return found.filter(f => f.isFile()).length > 100
  }, 'the compile cache to be written under XDG_CACHE_HOME/coints/compile-cache', 60_000)
  launcher.kill('SIGTERM')
  assert.deepEqual(await exited, [0, null])
})

test('SIGKILL of the launcher (bin/coints.js) stops the node it started: no node process remains, the datadir is free', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-launcher-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const target = ['--network', 'regtest', '--datadir', dir, '--rpc-port', String(await freePort())]
  const launcher = spawn(process.execPath, [BIN, 'node', '--no-http', ...target, '--no-p2p', '--log-level', 'warn'], { stdio: 'ignore', env: LAUNCHER_ENV })
  const launcherPid = launcher.pid as number
  await waitFor(async () => (await coints(['rpc', ...target, 'getblockcount'])).code === 0, 'the node to answer RPC')
  const children = readFileSync(`/proc/${launcherPid}/task/${launcherPid}/children`, 'utf8').trim().split(/\s+/).map(Number)
  assert.equal(children.length, 1, 'the launcher runs one node process')
  const nodePid = children[0]
  t.after(() => { if (running(nodePid)) process.kill(nodePid, 'SIGKILL') })
  assert.ok(running(nodePid))

  launcher.kill('SIGKILL')
  await waitFor(() => !running(nodePid), `node process ${nodePid} to end after its launcher's SIGKILL`)
  assert.equal(existsSync(join(dir, '.cookie')), false, 'it stopped cleanly (the cookie is removed on a clean stop)')
  // The datadir is free: a new node opens it.
  const again = spawn(process.execPath, [MAIN, 'node', '--no-http', ...target, '--no-p2p', '--log-level', 'warn'], { stdio: 'ignore' })
  t.after(() => { again.kill('SIGKILL') })
  await waitFor(async () => (await coints(['rpc', ...target, 'getblockcount'])).code === 0, 'a new node on the same datadir')
})

test('Ctrl-C at a terminal under the launcher reaches the node twice (from the terminal, forwarded by the launcher): one clean stop', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'coints-launcher-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const target = ['--network', 'regtest', '--datadir', dir, '--rpc-port', String(await freePort())]
  const launcher = spawn(process.execPath, [BIN, 'node', '--no-http', ...target, '--no-p2p'], { stdio: ['ignore', 'ignore', 'pipe'], env: LAUNCHER_ENV })
  const launcherPid = launcher.pid as number
  t.after(() => { launcher.kill('SIGKILL') })
  let stderr = ''
  launcher.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  await waitFor(async () => (await coints(['rpc', ...target, 'getblockcount'])).code === 0, 'the node to answer RPC')
  const [nodePid] = readFileSync(`/proc/${launcherPid}/task/${launcherPid}/children`, 'utf8').trim().split(/\s+/).map(Number)
  const exited = new Promise<number | null>(resolve => launcher.once('exit', code => { resolve(code) }))
  // What the terminal does on Ctrl-C: SIGINT to every process of its foreground group, the node and the launcher.
  process.kill(nodePid, 'SIGINT')
  launcher.kill('SIGINT')
  assert.equal(await exited, 0, stderr)
  assert.doesNotMatch(stderr, /again: exiting at once/)
  assert.match(stderr, /node: stopped/)
})

test('coints node refuses a damaged datadir in one line naming the damage and --reindex (status 1); coints node --reindex starts it again, with progress in the log', async t => {
  const datadir = await tempDatadir(t)
  const made = await startNode(t, { datadir, p2p: false })
  await rpc(made, 'generate', [20, newKey().address])
  await made.stop()
  await rm(join(datadir, 'chain', 'CURRENT'))
  const args = ['node', '--network', 'regtest', '--datadir', datadir, '--rpc-port', String(await freePort()), '--no-p2p']
  const refused = await coints(args)
  assert.equal(refused.code, 1)
  assert.equal(refused.stdout, '')
  assert.match(refused.stderr, /^coints: CORRUPT_DB: the chain database at \S+\/chain, which \S+\/chain\.marker says holds the regtest chain, is damaged: CURRENT is missing; start with --reindex to rebuild it [^\n]*\n$/)

  const child = spawn(process.execPath, [MAIN, ...args, '--reindex', '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] })
  t.after(() => { child.kill('SIGKILL') })
  let log = ''
  child.stderr?.on('data', (d: Buffer) => { log += d.toString() })
  const target = ['--network', 'regtest', '--datadir', datadir]
  await waitFor(async () => (await coints(['rpc', ...target, 'getblockcount'])).code === 0, 'the reindexed node to answer RPC')
  assert.equal((await coints(['rpc', ...target, 'getblockcount'])).stdout, '20\n')
  assert.match(log, /reindex: \d+ stored headers; rebuilding the block index, UTXO set and undo data/)
  assert.match(log, /reindex: done in [\d.]+ s: 20 blocks indexed, tip 20/)
  const exited = new Promise(resolve => child.once('exit', resolve))
  assert.equal((await coints(['rpc', ...target, 'stop'])).code, 0)
  await exited
})
