import assert from 'node:assert/strict'
import { test } from 'node:test'
import { defaultLogger } from '@libp2p/logger'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Libp2pEvents, PeerId } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { NatService, type NatServiceComponents } from '../src/p2p/nat-service.ts'
import { waitFor } from '../src/util/wait-for.ts'

interface Fake { service: NatService, events: TypedEventEmitter<Libp2pEvents>, addresses: Array<{ multiaddr: Multiaddr, verified: boolean, type: string }>, serverConnects: (peer: PeerId) => void, listened: Multiaddr[] }

async function fakeNat (verdictAfterMs: number): Promise<Fake> {
  const events = new TypedEventEmitter<Libp2pEvents>()
  const addresses: Fake['addresses'] = []
  const listened: Multiaddr[] = []
  let onConnect: ((peer: PeerId) => void) | undefined
  const components = {
    peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')),
    logger: defaultLogger(),
    events,
    addressManager: { getAddressesWithMetadata: () => addresses, getObservedAddrs: () => [], getAddresses: () => addresses.map(a => a.multiaddr) },
    transportManager: { getAddrs: () => [], listen: async (mas: Multiaddr[]) => { listened.push(...mas) } },
    registrar: { register: async (_: string, topology: { onConnect: (peer: PeerId) => void }) => { onConnect = topology.onConnect; return 'topology' }, unregister: () => {} }
  } as unknown as NatServiceComponents
  const service = new NatService(components, { relayService: false, relayClient: 'auto', server: {}, verdictServers: 1, verdictAfterMs })
  await service.start()
  return { service, events, addresses, listened, serverConnects: peer => { onConnect?.(peer) } }
}

test('a node is public as soon as libp2p says an address of its own was verified, without waiting for a poll', async t => {
  const nat = await fakeNat(60_000)
  t.after(async () => { await nat.service.stop() })
  assert.equal(nat.service.reachability, 'unknown')
  nat.addresses.push({ multiaddr: multiaddr('/ip4/203.0.113.7/tcp/8333'), verified: false, type: 'observed' })
  nat.addresses.push({ multiaddr: multiaddr('/ip4/8.8.4.4/tcp/8333'), verified: true, type: 'observed' })
  nat.events.safeDispatchEvent('self:peer:update', { detail: { peer: {} as never } })
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(nat.service.reachability, 'public')
})

test('a node is private once an AutoNAT server had its time to dial back and none could, and then reserves relay slots', async t => {
  const nat = await fakeNat(100)
  t.after(async () => { await nat.service.stop() })
  nat.serverConnects(peerIdFromPrivateKey(await generateKeyPair('Ed25519')))
  assert.equal(nat.service.reachability, 'unknown', 'a server just met has not had its time')
  await waitFor(() => nat.service.reachability === 'private', 'the private verdict', 5_000)
  assert.equal(nat.listened.length, 2, 'two /p2p-circuit listeners: a reservation on each of two relays')
})
