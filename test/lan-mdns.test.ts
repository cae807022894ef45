import type { RpcCall } from '../src/rpc/contract.ts'
import { typedRpc } from '../src/rpc/client.ts'
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { isLanSupported, Lan } from '../src/swarm/netns.ts'
import { newKey, waitFor } from './helpers/node-harness.ts'

const NODE = process.execPath
const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname
const HELIA_FETCH = new URL('./fixtures/helia-fetch.ts', import.meta.url).pathname

const support = await isLanSupported()
// CI runs as root with iproute2: there this test must run, never be skipped.
const skip = !support.ok && process.env.CI === undefined ? support.reason : false

/** A bridged LAN of `hosts` namespaces and a directory, both gone (and the processes started on it killed) after the test. */
async function lanFor (t: TestContext, hosts: number): Promise<{ lan: Lan, dir: string, children: ChildProcess[] }> {
  assert.ok(support.ok, support.reason)
  const lan = await Lan.create(hosts)
  const dir = await mkdtemp(join(tmpdir(), 'coints-lan-'))
  const children: ChildProcess[] = []
  t.after(async () => {
    for (const child of children) child.kill('SIGKILL')
    await lan.destroy()
    await rm(dir, { recursive: true, force: true })
  })
  return { lan, dir, children }
}

test('three hosts on a bridged LAN find each other by mDNS alone and agree on one tip', { skip }, async t => {
  const { lan, dir, children } = await lanFor(t, 3)
  const key = newKey()
  // Through `coints rpc` in the host's namespace: params as its command-line arguments, the result as it prints it.
  const rpc = (host: number): RpcCall => typedRpc(async (method, params) => {
    const args = Array.isArray(params) ? params.map(p => typeof p === 'string' ? p : JSON.stringify(p)) : []
    const out = await lan.exec(host, NODE, [MAIN, 'rpc', '--network', 'regtest', '--datadir', join(dir, `h${host}`), method, ...args])
    try {
      return JSON.parse(out)
    } catch {
      return out.trim()
    }
  })
  for (let i = 0; i < lan.hosts.length; i++) {
    // No bootstrap list: mDNS is the only way to find the others.
    children.push(lan.spawn(i, NODE, [MAIN, 'node', '--network', 'regtest', '--mdns', '--datadir', join(dir, `h${i}`), '--miner-address', key.address, '--log-level', 'warn'], { stdio: 'ignore' }))
  }
  await waitFor(async () => {
    const peers = await Promise.all(lan.hosts.map(async (_, i) => await rpc(i)('getpeerinfo').catch(() => [])))
    return peers.every(p => p.length >= 2) ? peers : undefined
  }, 'every host to connect to the other two', 60_000).then(peers => {
    // Connected over the LAN, never over a loopback address that mDNS also announces.
    for (const list of peers) for (const p of list) assert.match(p.addr, /^\/ip4\/10\.77\./)
  })
  await rpc(0)('generate', [2])
  const tips = await waitFor(async () => {
    const infos = await Promise.all(lan.hosts.map(async (_, i) => await rpc(i)('getblockchaininfo')))
    return infos.every(info => info.height === 2 && info.tip === infos[0].tip) ? infos : undefined
  }, 'all three hosts at the same tip', 30_000)
  assert.equal(new Set(tips.map(i => i.tip)).size, 1)
})

test('a stock Helia with its default mDNS finds a coints node on the LAN by itself and fetches the tip block by CID over bitswap', { skip }, async t => {
  const { lan, dir, children } = await lanFor(t, 2)
  const rpc = async (...args: string[]): Promise<string> => (await lan.exec(0, NODE, [MAIN, 'rpc', '--network', 'regtest', '--datadir', dir, ...args])).trim()
  children.push(lan.spawn(0, NODE, [MAIN, 'node', '--network', 'regtest', '--mdns', '--no-http', '--datadir', dir, '--miner-address', newKey().address, '--log-level', 'warn'], { stdio: 'ignore' }))
  await waitFor(async () => await rpc('getblockcount').catch(() => undefined), 'the node\'s RPC', 60_000)
  await rpc('generate', '2')
  const tip = await rpc('getbestblockhash')
  // Not told the peer: the two find each other by mDNS on the bridge.
  const out = await lan.exec(1, NODE, [HELIA_FETCH, tip])
  const fetched = JSON.parse(out.trim().split('\n').at(-1) ?? '') as { height: number, peers: number }
  assert.equal(fetched.height, 2)
  assert.ok(fetched.peers >= 1)
})
