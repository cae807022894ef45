import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { CointsError } from '../../core/errors.ts'
import type { P2PService } from '../../p2p/p2p-service.ts'
import type { MethodTable } from './types.ts'

function networkingOff (): never {
  throw new CointsError('P2P_DISABLED', 'networking is off (--no-p2p)')
}

/** Peer-to-peer methods: peers, addresses, and manual connections. */
export function networkMethods (p2p: P2PService | undefined): MethodTable {
  return {
    getpeerinfo: {
      description: 'Connected peers: [{peerId, addr, direction, height}].',
      params: [],
      handler: async () => p2p?.peerInfo() ?? []
    },
    getnetworkinfo: {
      description: 'This node\'s {peerId, addresses, connections}.',
      params: [],
      handler: async () => p2p?.networkInfo() ?? networkingOff()
    },
    addnode: {
      description: 'Connects to a peer by multiaddr (with /p2p/<peerId>) and keeps redialing it.',
      params: [{ name: 'multiaddr', type: 'string' }],
      handler: async ({ multiaddr: text }) => {
        if (p2p === undefined) networkingOff()
        try {
          multiaddr(text as string)
        } catch (err) {
          throw new CointsError('BAD_ADDRESS', `not a multiaddr: ${(err as Error).message}`)
        }
        await p2p.addNode(text as string)
        return null
      }
    },
    disconnectnode: {
      description: 'Closes the connections to a peer.',
      params: [{ name: 'peerId', type: 'string' }],
      handler: async ({ peerId }) => {
        if (p2p === undefined) networkingOff()
        try {
          peerIdFromString(peerId as string)
        } catch {
          throw new CointsError('BAD_PEER_ID', `not a peer id: ${String(peerId)}`)
        }
        await p2p.disconnectNode(peerId as string)
        return null
      }
    }
  }
}
