import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { CointsError } from '../../core/errors.ts'
import type { P2PService } from '../../p2p/p2p-service.ts'
import type { MethodTable } from './types.ts'

function networkingOff (): never {
  throw new CointsError('P2P_DISABLED', 'networking is off (--no-p2p)')
}

function checkPeerId (peerId: string): void {
  try {
    peerIdFromString(peerId)
  } catch {
    throw new CointsError('BAD_PEER_ID', `not a peer id: ${peerId}`)
  }
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
    setban: {
      description: 'Bans a peer ("add", for `seconds`, default 86400) or lifts its ban ("remove").',
      params: [{ name: 'peerId', type: 'string' }, { name: 'command', type: 'string' }, { name: 'seconds', type: 'integer', optional: true, min: 1 }],
      handler: async ({ peerId, command, seconds }) => {
        if (p2p === undefined) networkingOff()
        if (command !== 'add' && command !== 'remove') throw new CointsError('BAD_COMMAND', 'command must be "add" or "remove"')
        checkPeerId(peerId as string)
        await p2p.setBan(peerId as string, command === 'add', (seconds as number | undefined) ?? 86_400)
        return null
      }
    },
    listbanned: {
      description: 'Peers banned now.',
      params: [],
      handler: async () => p2p?.bans.banned ?? []
    },
    disconnectnode: {
      description: 'Closes the connections to a peer.',
      params: [{ name: 'peerId', type: 'string' }],
      handler: async ({ peerId }) => {
        if (p2p === undefined) networkingOff()
        checkPeerId(peerId as string)
        await p2p.disconnectNode(peerId as string)
        return null
      }
    }
  }
}
