import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { rpcArg } from '../src/cli/commands/rpc.ts'
import { freePort } from '../src/util/free-port.ts'
import { waitFor } from './helpers/node-harness.ts'

const run = promisify(execFile)
const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname
const BIN = new URL('../bin/coints.js', import.meta.url).pathname

async function coints (args: string[], env: Record<string, string> = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env } })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

test('the launcher runs on the system Node (v20) by re-executing on the bundled Node 24', async t => {
  const systemNode = ['/usr/bin/node', '/usr/local/bin/node'].find(p => existsSync(p))
  if (systemNode === undefined) return t.skip('no system node')
  const { stdout } = await run(systemNode, [BIN, '--help'])
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
  const badNetwork = await coints(['node', '--network', 'mainnet'])
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
  const nodeArgs = ['node', '--network', 'regtest', '--datadir', dir, '--rpc-port', port, '--no-p2p', '--log-level', 'warn']
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
  const child = spawn(process.execPath, [MAIN, 'node', ...target, '--no-p2p', '--log-level', 'warn'], { stdio: 'ignore' })
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
