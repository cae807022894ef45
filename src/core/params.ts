import { Block, BLOCK_VERSION, encodeTxList, Header, NONCE_BYTES } from './block.ts'
import { cidOf } from './cbor.ts'
import { COIN } from './amount.ts'
import { Tx, TX_VERSION } from './tx.ts'
import { targetToBits, type DifficultyRule } from './pow.ts'
import { CointsError } from './errors.ts'

export interface NetworkParams {
  name: NetworkName
  /** Human-readable prefix of addresses (bech32, BIP173). */
  addressPrefix: string
  defaultPort: number
  defaultRpcPort: number
  /** The HTTP server's (explorer, metrics, gateway), on loopback. */
  defaultHttpPort: number
  /** Whether mDNS discovery is on unless told otherwise. */
  mdns: boolean
  powLimitBits: number
  genesisBits: number
  genesisTime: number
  /** Seconds the difficulty aims for between blocks. */
  targetBlockTime: number
  difficulty: DifficultyRule
  /** A coinbase output is spendable only this many blocks after its own. */
  coinbaseMaturity: number
  halvingInterval: number
  initialSubsidy: bigint
  maxBlockBytes: number
  /** A block's time may be at most this far ahead of the local clock. */
  maxFutureBlockTime: number
  /** A block's time must exceed the median of this many previous blocks. */
  medianTimeSpan: number
}

export const NETWORK_NAMES = ['regtest', 'lan'] as const
export type NetworkName = typeof NETWORK_NAMES[number]

const common = {
  initialSubsidy: 50n * COIN,
  maxBlockBytes: 1_000_000,
  maxFutureBlockTime: 2 * 60 * 60,
  medianTimeSpan: 11
}

const NETWORKS: Record<NetworkName, NetworkParams> = {
  regtest: {
    ...common,
    name: 'regtest',
    addressPrefix: 'rcoin',
    defaultPort: 19_444,
    defaultRpcPort: 19_443,
    defaultHttpPort: 19_445,
    mdns: false,
    genesisTime: 1_795_478_400, // 2026-11-24T00:00:00Z
    // Half of all hashes meet it: tests mine instantly.
    powLimitBits: 0x207f_ffff,
    genesisBits: 0x207f_ffff,
    targetBlockTime: 10,
    difficulty: { kind: 'fixed' },
    coinbaseMaturity: 10,
    halvingInterval: 150
  },
  lan: {
    ...common,
    name: 'lan',
    addressPrefix: 'coin',
    defaultPort: 9_444,
    defaultRpcPort: 9_443,
    defaultHttpPort: 9_445,
    mdns: true,
    // The second lan (coints 0.2): a new genesis for the per-block difficulty below. The first
    // (2026-11-24) retargeted every 30 blocks, measuring its first window from this fixed time.
    genesisTime: 1_796_083_200, // 2026-12-01T00:00:00Z
    powLimitBits: targetToBits(1n << 240n),
    // About 2^21 hashes: some 7 s for one miner thread here (~300k hashes/s); ASERT takes it from there.
    genesisBits: targetToBits(1n << 235n),
    targetBlockTime: 10,
    // Half-life 120 s: ×10 or ÷10 the hash rate is followed within 70 or 35 blocks (test/core-difficulty.test.ts).
    difficulty: { kind: 'asert', halfLife: 120, maxSolveTime: 180 },
    // A minute, not Bitcoin's two hours: a timestamp that far ahead makes the next block 2^(60/120) ≈ 1.4× cheaper, once.
    maxFutureBlockTime: 60,
    coinbaseMaturity: 20,
    halvingInterval: 210_000
  }
}

export function getNetwork (name: string): NetworkParams {
  if (!(NETWORK_NAMES as readonly string[]).includes(name)) {
    throw new CointsError('UNKNOWN_NETWORK', `unknown network ${JSON.stringify(name)}; known: ${NETWORK_NAMES.join(', ')}`)
  }
  return NETWORKS[name as NetworkName]
}

/** Coinbase subsidy at a height: halves every halvingInterval blocks, zero after 64 halvings. */
export function subsidyAt (params: NetworkParams, height: number): bigint {
  const halvings = Math.floor(height / params.halvingInterval)
  return halvings >= 64 ? 0n : params.initialSubsidy >> BigInt(halvings)
}

const genesisCache = new Map<NetworkParams, Block>()

/**
 * The genesis block is built from the parameters, so it is the same everywhere.
 * Its coinbase pays the all-zero address, whose key nobody has.
 */
export function genesisBlock (params: NetworkParams): Block {
  let genesis = genesisCache.get(params)
  if (genesis === undefined) {
    const coinbase = Tx.create({
      version: TX_VERSION,
      height: 0,
      inputs: [],
      outputs: [{ amount: params.initialSubsidy, address: new Uint8Array(20) }]
    })
    const header = Header.create({
      version: BLOCK_VERSION,
      height: 0,
      prev: null,
      txs: cidOf(encodeTxList([coinbase])),
      time: params.genesisTime,
      bits: params.genesisBits,
      nonce: new Uint8Array(NONCE_BYTES)
    })
    genesis = new Block(header, [coinbase])
    genesisCache.set(params, genesis)
  }
  return genesis
}

/** What signatures commit to, so a transaction of one network is invalid on every other. */
export function chainTag (params: NetworkParams): Uint8Array {
  return genesisBlock(params).id.bytes
}
