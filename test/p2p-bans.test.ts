/**
 * Bans that hold, against real nodes over loopback: hostile peers run on
 * 127.0.0.2 (Linux routes all of 127/8 to lo), honest nodes on 127.0.0.1, so
 * a ban of the hostile address leaves the honest ones connected.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { genesisBlock } from '../src/core/params.ts'
import type { CointsNode } from '../src/node/node.ts'
import type { CointsLibp2p } from '../src/p2p/libp2p-node.ts'
import { addrOf, regtest, rpc, startLibp2p, startNode, waitFor } from './helpers/node-harness.ts'

const HOSTILE_HOST = '127.0.0.2'
const statusProtocol = `/coints/${regtest.name}/${genesisBlock(regtest).idString}/status/1.0.0`

/** A bare peer on `host`; with `garbage`, it answers our status request with bytes that are no status (a ban on the spot). */
async function peerOn (t: TestContext, host: string, options: { garbage?: boolean, privateKey?: PrivateKey } = {}): Promise<CointsLibp2p> {
  const peer = await startLibp2p(t, { host, topics: [], messageId: () => new Uint8Array(32), privateKey: options.privateKey })
  if (options.garbage === true) {
    await peer.handle(statusProtocol, async stream => {
      const lp = lpStream(stream)
      await lp.read()
      await lp.write(Uint8Array.of(0xff, 0x00))
      await stream.close()
    })
  }
  return peer
}

function peerIdOf (node: CointsNode): string {
  return node.p2p?.libp2p.peerId.toString() ?? ''
}

function connected (node: CointsNode, peer: string): boolean {
  return node.p2p?.libp2p.getPeers().some(p => p.toString() === peer) === true
}

async function tempDatadir (t: TestContext): Promise<string> {
  const datadir = await mkdtemp(join(tmpdir(), 'coints-bans-'))
  t.after(async () => { await rm(datadir, { recursive: true, force: true }) })
  return datadir
}

/** Bans as listbanned shows them, without their times. */
async function listed (node: CointsNode): Promise<Array<Record<string, unknown>>> {
  return (await rpc(node, 'listbanned')).map(({ ban_created: _c, banned_until: _u, ...rest }) => rest)
}

/** A misbehaving peer from HOSTILE_HOST, banned by `node`. */
async function bannedHostile (t: TestContext, node: CointsNode): Promise<{ peer: CointsLibp2p, key: PrivateKey }> {
  const key = await generateKeyPair('Ed25519')
  const peer = await peerOn(t, HOSTILE_HOST, { garbage: true, privateKey: key })
  await peer.dial(multiaddr(addrOf(node)))
  await waitFor(() => node.p2p?.bans.isBanned(peer.peerId.toString()), 'the hostile peer to be banned')
  await waitFor(() => !connected(node, peer.peerId.toString()), 'the hostile peer to be hung up on')
  return { peer, key }
}

test('a peer banned for misbehaving cannot come back with a new key from its address, while honest peers on 127.0.0.1 still connect', async t => {
  const node = await startNode(t)
  const honest = await startNode(t, { bootstrap: [addrOf(node)] })
  await waitFor(() => connected(node, peerIdOf(honest)), 'the honest peer to connect')

  const { peer: hostile } = await bannedHostile(t, node)
  const hostileId = hostile.peerId.toString()

  // A new key from the banned address is refused before its handshake, and the node does not dial it either.
  const again = await peerOn(t, HOSTILE_HOST)
  await assert.rejects(again.dial(multiaddr(addrOf(node))))
  assert.equal(connected(node, again.peerId.toString()), false)
  await assert.rejects(rpc(node, 'addnode', [`${again.getMultiaddrs()[0].toString()}`]), /gater/)

  assert.equal(node.p2p?.bans.isAddressBanned(HOSTILE_HOST), true)
  assert.equal(node.p2p?.bans.isAddressBanned('127.0.0.1'), false, 'an address of this host is never banned for one peer')
  const reason = (await listed(node))[0].reason
  assert.match(String(reason), /MALFORMED/)
  assert.deepEqual(await listed(node), [
    { peerId: hostileId, reason },
    { address: `${HOSTILE_HOST}/32`, reason: `${String(reason)} (peer ${hostileId})` }
  ])

  // Honest loopback peers are not cut: the connected one stays, a new one connects.
  assert.equal(connected(node, peerIdOf(honest)), true)
  const late = await startNode(t, { bootstrap: [addrOf(node)] })
  await waitFor(() => connected(node, peerIdOf(late)), 'a new honest peer to connect')
})

test('bans hold across a restart: the node started again on its datadir refuses the banned key and the banned address', async t => {
  const datadir = await tempDatadir(t)
  const first = await startNode(t, { datadir })
  const { peer: hostile, key } = await bannedHostile(t, first)
  const before = await rpc(first, 'listbanned')
  await first.stop()

  let node = await startNode(t, { datadir })
  // The banned key from its own address, a new key from that address, the banned key from an honest address.
  await assert.rejects(hostile.dial(multiaddr(addrOf(node))))
  const newKey = await peerOn(t, HOSTILE_HOST)
  await assert.rejects(newKey.dial(multiaddr(addrOf(node))))
  const sameKeyElsewhere = await peerOn(t, '127.0.0.1', { privateKey: key })
  // A key is known only once the handshake is done: its connection is refused then, the dialer may have seen it open.
  await sameKeyElsewhere.dial(multiaddr(addrOf(node))).catch(() => {})
  await waitFor(() => sameKeyElsewhere.getPeers().length === 0, 'the banned key\'s connection to be refused')
  const honest = await startNode(t, { bootstrap: [addrOf(node)] })
  await waitFor(() => connected(node, peerIdOf(honest)), 'an honest peer to connect')
  for (const peer of [hostile, newKey, sameKeyElsewhere]) assert.equal(connected(node, peer.peerId.toString()), false)
  assert.deepEqual(await rpc(node, 'listbanned'), before)

  // Bans made by hand hold as well; bans.json is the list.
  await rpc(node, 'setban', ['2001:db8::1/48', 'add', 3_600])
  await rpc(node, 'setban', [peerIdOf(honest), 'add'])
  const made = await rpc(node, 'listbanned')
  await node.stop()
  const file = JSON.parse(await readFile(join(datadir, 'bans.json'), 'utf8')) as { version: number, bans: unknown[] }
  assert.equal(file.version, 1)
  assert.equal(file.bans.length, 4)
  node = await startNode(t, { datadir })
  assert.deepEqual(await rpc(node, 'listbanned'), made)
})

test('setban, listbanned and clearbanned act on subnets and on peer ids', async t => {
  const node = await startNode(t)
  const honest = await startNode(t, { bootstrap: [addrOf(node)] })
  const visitor = await peerOn(t, HOSTILE_HOST)
  await visitor.dial(multiaddr(addrOf(node)))
  const visitorId = visitor.peerId.toString()
  await waitFor(() => connected(node, visitorId) && connected(node, peerIdOf(honest)), 'both peers to connect')

  // A subnet: its peers are hung up on, whatever their key, and cannot come back.
  const now = Math.floor(Date.now() / 1000)
  await rpc(node, 'setban', ['127.0.0.2/31', 'add', 60])
  await waitFor(() => !connected(node, visitorId) && visitor.getPeers().length === 0, 'the peer in the banned subnet to be hung up on')
  await assert.rejects(visitor.dial(multiaddr(addrOf(node))))
  assert.equal(connected(node, peerIdOf(honest)), true)
  // IPv6, Core's spellings: a prefix length (kept as the network), a lone address (/128), an absolute end.
  await rpc(node, 'setban', ['2001:DB8::1/48', 'add'])
  await rpc(node, 'setban', ['2001:db8:0:0:1::5', 'add', now + 7_200, true])
  await rpc(node, 'setban', ['10.1.2.3/255.255.0.0', 'add', 120])
  // A peer id.
  await rpc(node, 'setban', [peerIdOf(honest), 'add'])
  await waitFor(() => !connected(node, peerIdOf(honest)), 'the banned peer id to be hung up on')

  const bans = await rpc(node, 'listbanned')
  assert.deepEqual(await listed(node), [
    { address: '127.0.0.2/31', reason: 'setban' },
    { address: '2001:db8::/48', reason: 'setban' },
    { address: '2001:db8::1:0:0:5/128', reason: 'setban' },
    { address: '10.1.0.0/16', reason: 'setban' },
    { peerId: peerIdOf(honest), reason: 'setban' }
  ])
  for (const ban of bans) assert.ok(ban.ban_created >= now && ban.ban_created <= now + 60)
  assert.ok(Math.abs(bans[0].banned_until - (now + 60)) <= 60)
  assert.ok(Math.abs(bans[1].banned_until - (now + 86_400)) <= 60)
  assert.equal(bans[2].banned_until, now + 7_200)

  // Bad input: one clear error each, nothing changed.
  await assert.rejects(rpc(node, 'setban', ['not-a-peer', 'add']), /BAD_BAN_TARGET/)
  await assert.rejects(rpc(node, 'setban', ['1.2.3.4/33', 'add']), /BAD_SUBNET/)
  await assert.rejects(rpc(node, 'setban', ['1.2.3.4/255.0.255.0', 'add']), /BAD_SUBNET/)
  await assert.rejects(rpc(node, 'setban', ['1.2.3.4', 'ban']), /BAD_COMMAND/)
  await assert.rejects(rpc(node, 'setban', ['1.2.3.4', 'add', 1_000, true]), /BAD_BANTIME/)
  await assert.rejects(rpc(node, 'setban', ['127.0.0.2', 'remove']), /NOT_BANNED/, 'only the subnet as banned can be lifted')
  assert.equal((await listed(node)).length, 5)

  // Lifting the subnet lets its peer back; clearbanned lifts the rest.
  await rpc(node, 'setban', ['127.0.0.2/31', 'remove'])
  await visitor.dial(multiaddr(addrOf(node)))
  await waitFor(() => connected(node, visitorId), 'the peer of the lifted subnet to connect again')
  await rpc(node, 'clearbanned')
  assert.deepEqual(await rpc(node, 'listbanned'), [])
  await rpc(node, 'addnode', [addrOf(honest)])
  await waitFor(() => connected(node, peerIdOf(honest)), 'the unbanned peer id to connect again')
})
