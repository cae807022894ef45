import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PeerId, PeerInfo } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { BanList } from '../src/p2p/ban-list.ts'
import { PeerManager } from '../src/p2p/peer-manager.ts'
import { createLogger, setLogLevel } from '../src/log.ts'
import { waitFor } from './helpers/node-harness.ts'

setLogLevel('silent')

async function newPeerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

test('discovered peers that never answer do not crowd out a live one found after them: it is dialed again and connects', async t => {
  const dead = await Promise.all(Array.from({ length: 6 }, newPeerId))
  const live = await newPeerId()
  const connected = new Set<string>()
  const dials = new Map<string, number>()
  let onDiscovery: ((evt: CustomEvent<PeerInfo>) => void) | undefined
  // Stands in for libp2p: the live peer's first dial fails (it was still starting), later ones connect.
  const libp2p = {
    peerId: await newPeerId(),
    getPeers: () => [...connected].map(p => peerIdFromString(p)),
    dial: async (addrs: Multiaddr[]) => {
      const peer = addrs[0].getComponents().find(c => c.name === 'p2p')?.value ?? ''
      const n = (dials.get(peer) ?? 0) + 1
      dials.set(peer, n)
      if (peer === live.toString() && n > 1) connected.add(peer)
      else throw new Error('unreachable')
    },
    addEventListener: (_: string, fn: (evt: CustomEvent<PeerInfo>) => void) => { onDiscovery = fn },
    removeEventListener: () => {},
    hangUp: async () => {}
  } as unknown as Libp2p
  const peers = new PeerManager({ libp2p, bans: new BanList(), logger: createLogger('peers') }, { bootstrap: [], targetPeers: 2, maintainIntervalMs: 20 })
  await peers.start()
  t.after(async () => { await peers.stop() })
  for (const [i, id] of [...dead, live].entries()) {
    onDiscovery?.(new CustomEvent('peer:discovery', { detail: { id, multiaddrs: [multiaddr(`/ip4/10.9.0.${i + 1}/tcp/9444`)] } }))
  }
  await waitFor(() => connected.has(live.toString()), 'the live peer to be dialed again and connect', 10_000)
  assert.equal(dials.get(live.toString()), 2)
})
