import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { CointsError } from '../../core/errors.ts'
import type { Ban } from '../../p2p/ban-list.ts'
import type { P2PService } from '../../p2p/p2p-service.ts'
import { parseSubnet, type Subnet } from '../../p2p/subnet.ts'
import { USER_AGENT, VERSION } from '../../util/version.ts'
import type { BanView, NetworkResults } from '../contract/network.ts'
import type { Handlers } from './types.ts'

/** "0.2.0" as Bitcoin Core numbers its versions: 1000000 × major + 10000 × minor + 100 × patch. */
function versionNumber (version: string): number {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map(n => Number.parseInt(n, 10) || 0)
  return 1_000_000 * major + 10_000 * minor + 100 * patch
}

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

/** Core's default setban time: a day. */
const DEFAULT_BAN_SECONDS = 86_400

/** What setban acts on: an IP address or subnet (Core's syntax, see parseSubnet), or a peer id (which has neither dots nor colons). */
function banTarget (text: string): { peerId: string } | { subnet: Subnet } {
  if (text.includes('.') || text.includes(':')) return { subnet: parseSubnet(text) }
  try {
    peerIdFromString(text)
  } catch {
    throw new CointsError('BAD_BAN_TARGET', `not a peer id, an IP address or a subnet: ${text}`)
  }
  return { peerId: text }
}

/** A ban as listbanned shows it: Core's fields (seconds since the epoch), with peerId for a ban of a key. */
function banView (ban: Ban): BanView {
  return {
    ...(ban.kind === 'peer' ? { peerId: ban.target } : { address: ban.target }),
    ban_created: Math.floor(ban.created / 1000),
    banned_until: Math.floor(ban.until / 1000),
    reason: ban.reason
  }
}

/** Peer-to-peer methods: peers, addresses, manual connections and bans. */
export function networkMethods (p2p: P2PService | undefined): Handlers<keyof NetworkResults> {
  return {
    getpeerinfo: async () => await p2p?.peerInfo() ?? [],
    getnetworkinfo: async () => {
      if (p2p === undefined) networkingOff()
      const peers = await p2p.peerInfo()
      const inbound = peers.filter(p => p.direction === 'inbound').length
      return { version: versionNumber(VERSION), subversion: USER_AGENT, ...await p2p.networkInfo(), connections_in: inbound, connections_out: peers.length - inbound, networkactive: true }
    },
    getconnectioncount: async () => (await p2p?.peerInfo())?.length ?? 0,
    addnode: async ({ multiaddr: text }) => {
      if (p2p === undefined) networkingOff()
      try {
        multiaddr(text)
      } catch (err) {
        throw new CointsError('BAD_ADDRESS', `not a multiaddr: ${(err as Error).message}`)
      }
      await p2p.addNode(text)
      return null
    },
    setban: async ({ target, command, bantime, absolute }) => {
      if (p2p === undefined) networkingOff()
      if (command !== 'add' && command !== 'remove') throw new CointsError('BAD_COMMAND', 'command must be "add" or "remove"')
      const what = banTarget(target)
      if (command === 'remove') {
        const lifted = 'peerId' in what ? p2p.bans.unban(what.peerId) : p2p.bans.unbanSubnet(what.subnet)
        if (!lifted) throw new CointsError('NOT_BANNED', `${'peerId' in what ? what.peerId : what.subnet.text} is not banned`)
        return null
      }
      const seconds = bantime ?? DEFAULT_BAN_SECONDS
      const until = absolute === true ? seconds * 1000 : Date.now() + seconds * 1000
      if (until <= Date.now()) throw new CointsError('BAD_BANTIME', `an absolute bantime of ${seconds} is in the past`)
      if ('peerId' in what) await p2p.banPeer(what.peerId, until, 'setban')
      else await p2p.banSubnet(what.subnet, until, 'setban')
      return null
    },
    listbanned: async () => p2p?.bans.list().map(banView) ?? [],
    clearbanned: async () => {
      if (p2p === undefined) networkingOff()
      p2p.bans.clear()
      return null
    },
    disconnectnode: async ({ peerId }) => {
      if (p2p === undefined) networkingOff()
      checkPeerId(peerId)
      await p2p.disconnectNode(peerId)
      return null
    }
  }
}
