/**
 * RPC from another machine (another host of a LAN of network namespaces the
 * test builds): only with --rpc-bind and salted credentials; the cookie never
 * works over the network, and without --rpc-bind RPC is on loopback only.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeRpcAuth } from '../src/rpc/auth.ts'
import { isLanSupported, Lan } from '../src/swarm/netns.ts'
import { waitFor } from './helpers/node-harness.ts'

const NODE = process.execPath
const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname
const support = await isLanSupported()
// CI runs as root with iproute2: there this test must run, never be skipped.
const skip = !support.ok && process.env.CI === undefined ? support.reason : false

test('remote RPC needs --rpc-bind and an --rpc-auth user; the cookie is refused from another host; loopback only by default', { skip }, async t => {
  const lan = await Lan.create(2)
  const dir = await mkdtemp(join(tmpdir(), 'coints-remote-'))
  const children: ChildProcess[] = []
  t.after(async () => {
    for (const child of children) child.kill('SIGKILL')
    await lan.destroy()
    await rm(dir, { recursive: true, force: true })
  })
  const [server, client] = lan.hosts
  const { line, password } = makeRpcAuth('alice')
  const port = '19500'
  const datadir = (host: number): string => join(dir, `h${host}`)
  // A program on a host, to its exit: its status and what it printed.
  const on = async (host: number, args: string[], env: Record<string, string> = {}): Promise<{ code: number, out: string }> => {
    const child = lan.spawn(host, NODE, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr?.on('data', (d: Buffer) => { out += d.toString() })
    return { code: await new Promise<number>(resolve => child.once('exit', c => { resolve(c ?? 1) })), out }
  }
  const startNode = (host: number, extra: string[]): void => {
    children.push(lan.spawn(host, NODE, [MAIN, 'node', '--network', 'regtest', '--datadir', datadir(host), '--rpc-port', port, '--no-p2p', '--log-level', 'warn', ...extra], { stdio: 'ignore' }))
  }
  startNode(0, ['--rpc-bind', server.ip, '--rpc-auth', line])
  startNode(1, [])
  for (const host of [0, 1]) await waitFor(async () => (await on(host, [MAIN, 'rpc', '--network', 'regtest', '--datadir', datadir(host), 'getblockcount'])).code === 0, `node ${host} to answer on its loopback`)

  const remote = [MAIN, 'rpc', '--network', 'regtest', '--rpc-connect', server.ip, '--rpc-port', port, '--rpc-user', 'alice', 'getblockcount']
  assert.deepEqual(await on(1, remote, { COINTS_RPC_PASSWORD: password }), { code: 0, out: '0\n' })
  const wrong = await on(1, remote, { COINTS_RPC_PASSWORD: 'guess' })
  assert.equal(wrong.code, 1)
  assert.match(wrong.out, /UNAUTHORISED: the node on 10\.77\.\d+\.1:19500 refused the password of RPC user alice/)
  assert.match((await on(1, [MAIN, 'rpc', '--rpc-connect', server.ip, 'getblockcount'])).out, /--rpc-connect needs --rpc-user/)

  // The right cookie, sent from the other host: refused all the same.
  const cookie = (await readFile(join(datadir(0), '.cookie'), 'utf8')).trim()
  const script = `fetch('http://${server.ip}:${port}/', { method: 'POST', headers: { Authorization: 'Basic ${Buffer.from(cookie).toString('base64')}' }, body: '{"jsonrpc":"2.0","id":1,"method":"getblockcount"}' }).then(r => console.log(r.status))`
  assert.deepEqual(await on(1, ['-e', script]), { code: 0, out: '401\n' })

  // A node without --rpc-bind answers nobody but its own host.
  const closed = await on(0, [MAIN, 'rpc', '--network', 'regtest', '--rpc-connect', client.ip, '--rpc-port', port, '--rpc-user', 'alice', 'getblockcount'], { COINTS_RPC_PASSWORD: password })
  assert.equal(closed.code, 1)
  assert.match(closed.out, /NOT_RUNNING: no node is running with RPC on 10\.77\.\d+\.2:19500/)
})
