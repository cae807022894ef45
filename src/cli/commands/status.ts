import type { BalanceView, BlockchainInfo, MempoolInfo, MiningInfo, NetworkInfo, PeerInfoView, WalletInfoView } from '../../rpc/contract.ts'
import { rpcClient, RpcCallError, type RpcTarget } from '../../rpc/client.ts'
import { VERSION } from '../../util/version.ts'
import { helpText, parseFlags, type Command } from '../command.ts'
import { rpcTargetOf, targetFlagHelp, targetFlags } from './common.ts'

/** What `coints status` shows, gathered from the node's RPC. */
export interface NodeStatus {
  version: string
  rpc: string
  uptime: number
  chain: BlockchainInfo
  mining: MiningInfo
  mempool: MempoolInfo
  /** null with networking off. */
  network: NetworkInfo | null
  peers: PeerInfoView[]
  wallet: (WalletInfoView & { balance?: BalanceView }) | null
}

/** An RPC call whose failure means "not there" (networking off, no wallet) rather than an error. */
async function optional<T> (call: Promise<T>, absent: string): Promise<T | null> {
  try {
    return await call
  } catch (err) {
    if (err instanceof RpcCallError && err.code === absent) return null
    throw err
  }
}

export async function nodeStatus (target: RpcTarget): Promise<NodeStatus> {
  const rpc = rpcClient(target)
  const chain = await rpc('getblockchaininfo')
  const wallet = await rpc('getwalletinfo')
  return {
    version: VERSION,
    rpc: `${target.host ?? '127.0.0.1'}:${target.port}`,
    uptime: await rpc('uptime'),
    chain,
    mining: await rpc('getmininginfo'),
    mempool: await rpc('getmempoolinfo'),
    network: await optional(rpc('getnetworkinfo'), 'P2P_DISABLED'),
    peers: await rpc('getpeerinfo'),
    // A wallet still catching up with the chain has no balance yet (WALLET_SCANNING): the status says it scans.
    wallet: wallet.exists ? { ...wallet, balance: await optional(rpc('getbalance'), 'WALLET_SCANNING') ?? undefined } : null
  }
}

/** 1234567 → "1.23 MH/s". */
export function hashRate (perSecond: number): string {
  const units = ['H/s', 'kH/s', 'MH/s', 'GH/s', 'TH/s']
  let value = perSecond
  let unit = 0
  while (value >= 1_000 && unit < units.length - 1) {
    value /= 1_000
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 2)} ${units[unit]}`
}

function duration (seconds: number): string {
  const d = Math.floor(seconds / 86_400)
  const h = Math.floor(seconds % 86_400 / 3_600)
  const m = Math.floor(seconds % 3_600 / 60)
  return d > 0 ? `${d} d ${h} h` : h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min` : `${seconds} s`
}

/** The summary as text: bitcoin-cli -getinfo's lines, then -netinfo's table of peers. */
export function formatStatus (s: NodeStatus, now = Date.now() / 1000): string {
  const c = s.chain
  const sync = !c.initialblockdownload ? 'synced' : c.headers > c.blocks ? `syncing, ${(c.verificationprogress * 100).toFixed(1)} %` : 'tip older than a day: waiting for new blocks'
  const row = (label: string, value: string): string => `${label.padEnd(12)}${value}`
  const lines = [
    `coints ${s.version}, ${c.chain} node on ${s.rpc}, up ${duration(s.uptime)}`,
    row('chain', `${c.chain}, height ${c.blocks} (headers ${c.headers}), ${sync}`),
    row('tip', `${c.bestblockhash}, ${duration(Math.max(0, Math.round(now - c.time)))} ago`),
    row('difficulty', `${c.difficulty}, network about ${hashRate(s.mining.networkhashps)}`),
    row('mining', s.mining.mining ? `yes, paying ${s.mining.mineraddress ?? '?'}` : 'no'),
    row('mempool', `${s.mempool.size} transactions, ${(s.mempool.bytes / 1_000).toFixed(1)} kB`),
    row('network', s.network === null ? 'off (--no-p2p)' : `${s.network.connections} peers (${s.network.connections_in} in, ${s.network.connections_out} out), ${s.network.subversion} ${s.network.peerId}`),
    row('wallet', s.wallet === null
      ? 'none (coints wallet create)'
      : `${s.wallet.balance === undefined ? 'balance not known yet' : `${s.wallet.balance.confirmed} confirmed, ${s.wallet.balance.unconfirmed} unconfirmed, ${s.wallet.balance.immature} immature`}; ${s.wallet.locked ? 'locked' : 'unlocked'}${s.wallet.scanning === false ? '' : `, scanning the chain at ${s.wallet.scanning.height} of ${s.wallet.scanning.tip}`}`)
  ]
  if (s.peers.length > 0) {
    lines.push('', `${'peer'.padEnd(20)}${'dir'.padEnd(5)}${'height'.padStart(8)}  address`)
    for (const p of s.peers) lines.push(`${`${p.peerId.slice(0, 8)}…${p.peerId.slice(-8)}`.padEnd(20)}${(p.direction === 'inbound' ? 'in' : 'out').padEnd(5)}${String(p.height ?? '?').padStart(8)}  ${p.addr}`)
  }
  return lines.join('\n')
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'Shows a running node at a glance: chain and sync, tip, difficulty and network hash rate, mining, mempool, peers and wallet (as bitcoin-cli -getinfo and -netinfo).',
  usage: 'coints status [options]',
  flags: [...targetFlagHelp, ['--json', 'print one JSON object instead of text']],
  async run (argv) {
    const { values } = parseFlags(this, argv, targetFlags)
    if (values.help === true) {
      console.log(helpText(this))
      return 0
    }
    const status = await nodeStatus(await rpcTargetOf(values))
    console.log(values.json === true ? JSON.stringify(status, null, 2) : formatStatus(status))
    return 0
  }
}
