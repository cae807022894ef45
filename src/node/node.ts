import { join } from 'node:path'
import { decodeAddress, encodeAddress } from '../core/address.ts'
import type { Block } from '../core/block.ts'
import { CointsError } from '../core/errors.ts'
import { equalBytes } from '../core/hash.ts'
import { getNetwork, type NetworkParams } from '../core/params.ts'
import type { Chain } from '../chain/chain.ts'
import type { MempoolView } from '../chain/ports.ts'
import { MEMPOOL_FILE, MempoolFile } from '../chain/mempool-file.ts'
import type { ChainStore } from '../chain/store.ts'
import { TemplateGenerator } from '../miner/block-template.ts'
import { Miner } from '../miner/miner.ts'
import { createLogger, type Logger } from '../log.ts'
import { parseRpcAuth } from '../rpc/auth.ts'
import { parseRpcBind, RpcServer } from '../rpc/server.ts'
import { chainMethods } from '../rpc/methods/chain.ts'
import { controlMethods } from '../rpc/methods/control.ts'
import { networkMethods } from '../rpc/methods/network.ts'
import { walletMethods } from '../rpc/methods/wallet.ts'
import { Wallet } from '../wallet/wallet.ts'
import { serveMethods, type MethodTable } from '../rpc/methods/types.ts'
import type { RpcMethodName } from '../rpc/contract.ts'
import type { P2PService } from '../p2p/p2p-service.ts'
import { HttpServer } from '../http/server.ts'
import type { HttpRoute } from '../http/types.ts'
import { metricsRoute } from '../http/metrics.ts'
import { logChainEvents } from '../chain/chain-log.ts'
import { Registry } from 'prom-client'
import { createNodeMetrics } from './metrics.ts'
import { Explorer } from '../http/explorer/explorer.ts'
import type { ExplorerSources } from '../http/explorer/types.ts'
import { AddrIndex } from '../index/addr-index.ts'
import { VERSION } from '../util/version.ts'
import { BitswapService } from '../ipfs/bitswap-service.ts'
import { ipfsGatewayRoute } from '../http/ipfs-gateway.ts'
import { removeStaleTemps } from '../util/atomic-file.ts'
import { makeDirectory } from '../util/make-directory.ts'
import { ServiceList } from '../util/startable.ts'
import { unixSeconds } from '../util/clock.ts'
import { CachedDirectoryBytes } from '../util/disk-usage.ts'
import { buildChain } from './build-chain.ts'
import { buildNetwork, createNetworkBase, type NetworkBase } from './build-network.ts'
import type { NodeOptions } from './options.ts'
import { checkListeners, explainStartupError, listenersOf } from './startup.ts'

/** getblockchaininfo's size_on_disk is at most this old: a walk of the datadir a call cost a polled swarm node 2 % of its CPU. */
const SIZE_ON_DISK_MAX_AGE_MS = 5_000

/**
 * What building a node awaits before its constructor builds the rest: the
 * metrics registry libp2p's own metrics go into at its creation, and
 * networking's libp2p node, created stopped (none with --no-p2p).
 */
export interface NodeBase {
  metrics: Registry | undefined
  network: NetworkBase | undefined
}

/**
 * The composition root: builds every service from the options, wires them
 * together, starts them in dependency order (RPC last: once it answers, the
 * node is ready; the saved mempool's load and the wallet's scan go on in the
 * background) and stops them in reverse. Made by CointsNode.create, as
 * Lodestar's BeaconNode.init: what must be awaited first (libp2p's creation,
 * which takes the node's key) is, then the constructor builds the rest
 * synchronously; nothing listens, opens or writes before start().
 */
export class CointsNode {
  readonly options: NodeOptions
  readonly params: NetworkParams
  readonly chain: Chain
  /** The chain's database, which the chain alone changes (the node hands others its ports). */
  readonly store: ChainStore
  /** The mempool, read-only: it changes only through the chain (acceptTx, blocks). */
  readonly mempool: MempoolView
  readonly mempoolFile: MempoolFile
  readonly templates: TemplateGenerator
  readonly miner: Miner
  readonly p2p: P2PService | undefined
  readonly bitswap: BitswapService | undefined
  readonly wallet: Wallet
  readonly rpc: RpcServer
  /** The HTTP server for people and tools (explorer, /metrics), unless --no-http. */
  readonly http: HttpServer | undefined
  /** Prometheus metrics, served at /metrics; none without the HTTP server. */
  readonly metrics: Registry | undefined
  /** The explorer's page and JSON, on the HTTP server. */
  readonly explorer: Explorer | undefined
  /** --addrindex. */
  readonly addrIndex: AddrIndex | undefined
  readonly #log: Logger
  /** The wallet address blocks pay until one is connected (#walletPayee). */
  #minedTo: Uint8Array | undefined
  /** When the node was built, in ms since the epoch (RPC uptime). */
  readonly #startedAt = Date.now()
  #starting: Promise<void> | undefined
  /** Started completely: RPC answers, mining runs if asked. */
  #ready = false
  #stopping: Promise<void> | undefined
  readonly #services: ServiceList
  #haltReason: CointsError | undefined
  readonly #stopped: Promise<void>
  #resolveStopped: () => void = () => {}

  /** A node built from `options`, not started; a failure is one line saying what to do (explainStartupError), as start's are. */
  static async create (options: NodeOptions): Promise<CointsNode> {
    try {
      // libp2p's own metrics go into the node's registry, made before networking so that it can take them.
      const metrics = options.http === undefined ? undefined : new Registry()
      const network = options.p2p
        ? await createNetworkBase({
          params: getNetwork(options.network),
          datadir: options.datadir,
          listen: options.listen,
          bootstrap: options.bootstrap,
          mdns: options.mdns,
          maxPeers: options.maxPeers,
          statusIntervalMs: options.statusIntervalMs,
          nat: { announce: options.announce, stun: options.stun, upnp: options.upnp, relayService: options.relayService, relayClient: options.relayClient },
          metrics
        })
        : undefined
      return new CointsNode(options, { metrics, network })
    } catch (err) {
      throw explainStartupError(err, options)
    }
  }

  private constructor (options: NodeOptions, base: NodeBase) {
    this.options = options
    this.params = getNetwork(options.network)
    this.#log = createLogger('node')
    this.#stopped = new Promise(resolve => { this.#resolveStopped = resolve })
    // One clock for validation and templates, so a block this node makes is never too new for it.
    const now = (): number => unixSeconds() + (options.clockOffset ?? 0)
    const { chain, store, mempool } = buildChain({
      params: this.params,
      dbPath: join(options.datadir, 'chain'),
      mempoolMaxBytes: options.mempoolMaxBytes,
      verifierThreads: options.verifierThreads,
      dbcacheMb: options.dbcacheMb,
      now,
      reindex: options.reindex,
      checkBlocks: options.checkBlocks,
      minFreeBytes: options.minFreeMb * 1024 * 1024,
      // A halt for want of space leaves room for the mempool's write at stop.
      reserveBytes: () => this.mempoolFile.nextWriteBytes
    }, { logger: createLogger('chain') })
    this.chain = chain
    this.store = store
    this.mempool = mempool
    logChainEvents(this.chain, createLogger('chain'), { quiet: () => this.p2p?.sync.progress.catchingUp === true })
    this.chain.on('block:connected', this.#onBlockConnected)
    this.chain.on('halt', this.#onHalt)
    this.mempoolFile = new MempoolFile({ chain: this.chain, mempool: this.mempool, logger: createLogger('mempool') }, { path: join(options.datadir, MEMPOOL_FILE) })
    if (options.minerAddress !== undefined) decodeAddress(this.params.addressPrefix, options.minerAddress)
    // Its scan begins once everything has started, so it does not hold the start up.
    this.wallet = new Wallet({ chain: this.chain, mempool: this.mempool, logger: createLogger('wallet'), onWriteFailure: this.#onHalt }, { datadir: options.datadir, params: this.params, defaultFeeRate: options.feeRate, scanAtStart: false })
    const { metrics } = base
    this.p2p = base.network === undefined ? undefined : buildNetwork(base.network, { chain: this.chain, mempool: this.mempool, logger: createLogger('p2p') })
    this.bitswap = this.p2p !== undefined && options.bitswap
      ? new BitswapService({ network: this.p2p, blocks: this.store, logger: createLogger('bitswap') })
      : undefined
    this.templates = new TemplateGenerator({ chain: this.chain, now })
    this.miner = new Miner({ chain: this.chain, templates: this.templates, logger: createLogger('miner'), onBlockMined: block => { this.p2p?.publishBlock(block) } }, { threads: options.minerThreads })
    this.rpc = new RpcServer({ methods: this.#methods(), logger: createLogger('rpc') }, {
      host: options.rpcHost,
      port: options.rpcPort,
      datadir: options.datadir,
      bind: options.rpcBind.map(parseRpcBind),
      auth: options.rpcAuth.map(parseRpcAuth)
    })
    this.addrIndex = options.addrIndex ? new AddrIndex({ chain: this.chain, logger: createLogger('addrindex') }, { datadir: options.datadir }) : undefined
    this.explorer = options.http === undefined ? undefined : new Explorer({ sources: this.#explorerSources(), logger: createLogger('http') })
    this.metrics = metrics === undefined ? undefined : createNodeMetrics(metrics, this.params.name, { chain: this.chain, mempool: this.mempool, miner: this.miner, p2p: this.p2p })
    this.http = options.http === undefined ? undefined : new HttpServer({ routes: this.#routes(), logger: createLogger('http') }, options.http)
    const { explorer } = this
    // Started in this order, stopped in reverse. The mempool file only follows the chain's events at its
    // start and loads once all have started; it is written last, when what the chain's queue held has reached the mempool.
    this.#services = new ServiceList([
      this.mempoolFile,
      this.chain,
      // Once the chain's database is open, its lock keeps any other node off the datadir: no temporary file there is a live write's.
      { start: async () => { for (const file of await removeStaleTemps(this.options.datadir)) this.#log.info(`removed ${file}, left by a write that was cut short`) }, stop: async () => {} },
      this.wallet,
      this.p2p,
      this.bitswap,
      this.miner,
      // Its build runs in the background, following the chain's tip.
      this.addrIndex,
      this.http,
      // The explorer's event streams and mempool view end before the server that carries them.
      explorer === undefined ? undefined : { start: async () => {}, stop: async () => { explorer.stop() } },
      this.rpc
    ])
  }

  /** What the HTTP server serves. */
  #routes (): HttpRoute[] {
    return [...(this.metrics === undefined ? [] : [metricsRoute(this.metrics)]), ...(this.explorer?.routes ?? []), ipfsGatewayRoute(this.store)]
  }

  /** What the explorer reads: the chain's read side and mempool, networking's peers and sync, the address index. */
  #explorerSources (): ExplorerSources {
    const { chain, mempool, p2p, addrIndex } = this
    return {
      chain,
      mempool,
      version: VERSION,
      addrIndex,
      network: p2p === undefined
        ? undefined
        : {
            peerId: () => p2p.libp2p.peerId.toString(),
            addresses: () => p2p.libp2p.getMultiaddrs().map(String),
            peers: () => p2p.connectedPeers(),
            sync: () => p2p.sync.progress.state,
            headersHeight: () => p2p.sync.headersHeight
          }
    }
  }

  #methods (): MethodTable {
    const chainBytes = new CachedDirectoryBytes(this.store.path, SIZE_ON_DISK_MAX_AGE_MS)
    // Every method of the contract, or this does not compile.
    return serveMethods<RpcMethodName>({
      ...chainMethods({
        chain: this.chain,
        mempool: this.mempool,
        sizeOnDisk: async () => await chainBytes.bytes(),
        templates: this.templates,
        generate: async (n, address) => (await this.miner.mineBlocks(n, await this.#payee(address))).map(b => b.idString),
        templateAddress: async address => await this.#payee(address),
        relayBlock: block => { this.p2p?.publishBlock(block) },
        mempoolFile: this.mempoolFile,
        headersHeight: () => this.p2p?.sync.headersHeight ?? this.chain.height,
        walletTxHeight: txid => this.wallet.exists ? this.wallet.heightOf(txid) : undefined,
        mining: () => {
          const payee = this.miner.payee
          return { mining: this.miner.mining, address: payee === undefined ? undefined : encodeAddress(this.params.addressPrefix, payee) }
        }
      }),
      ...networkMethods(this.p2p),
      ...walletMethods(this.wallet),
      ...controlMethods({ startedAt: this.#startedAt, stop: () => { void this.stop() } })
    })
  }

  /** The address a block pays: the one given, else the configured miner address, else a wallet address. */
  async #payee (address: string | undefined): Promise<Uint8Array> {
    const text = address ?? this.options.minerAddress
    if (text !== undefined) return decodeAddress(this.params.addressPrefix, text)
    if (this.wallet.exists) return await this.#walletPayee()
    throw new CointsError('NO_ADDRESS', 'no address to pay: give --miner-address ADDR (or an address to generate), or make a wallet (coints wallet create)')
  }

  /**
   * One new wallet address for blocks, kept until a connected block pays it: an
   * external miner polls getblocktemplate, and an address per poll would leave
   * the wallet's used addresses beyond the 20 unused ones a restore looks ahead.
   */
  async #walletPayee (): Promise<Uint8Array> {
    this.#minedTo ??= (await this.wallet.newAddress()).hash
    return this.#minedTo
  }

  readonly #onBlockConnected = (block: Block): void => {
    const payee = this.#minedTo
    if (payee !== undefined && block.txs[0].data.outputs.some(o => equalBytes(o.address, payee))) this.#minedTo = undefined
  }

  async start (): Promise<void> {
    this.#starting ??= this.#start()
    try {
      await this.#starting
    } catch (err) {
      throw explainStartupError(err, this.options)
    }
  }

  async #start (): Promise<void> {
    // Ports in use are found before anything opens: their failure is then all the user sees.
    await checkListeners(listenersOf(this.options))
    await makeDirectory(this.options.datadir, 0o700)
    // A stop (a signal) while starting starts nothing more; then the background work (the saved mempool's load,
    // the wallet's scan) once RPC answers, so it does not hold the start up.
    if (!await this.#services.start()) throw new CointsError('STOPPED_WHILE_STARTING', 'the node was stopped while starting')
    if (this.options.mine) this.miner.startMining(await this.#payee(undefined))
    this.#ready = true
    this.#log.info(`coints ${this.params.name} node ready: height ${this.chain.height}, RPC on ${this.rpc.addresses.join(' and ')}${this.http === undefined ? '' : `, explorer on http://${this.http.address}/`}, datadir ${this.options.datadir}`)
  }

  /** The chain or the wallet cannot write (a full disk): the node shuts down rather than run half-working (as Bitcoin Core). */
  readonly #onHalt = (reason: CointsError): void => {
    if (this.#haltReason !== undefined) return
    this.#haltReason = reason
    this.#log.error(`shutting down: ${reason.message}`)
    void this.stop()
  }

  /** Why the node shut itself down, if it did. */
  get haltReason (): CointsError | undefined { return this.#haltReason }

  /** Resolves once the node has stopped (by stop(), RPC `stop` or a signal). */
  get stopped (): Promise<void> { return this.#stopped }

  async stop (): Promise<void> {
    // A node that never became ready says nothing at info level: its start-up error is the one line to read.
    const log = (text: string): void => { if (this.#ready) this.#log.info(text); else this.#log.debug(text) }
    this.#stopping ??= (async () => {
      log('stopping')
      // Once the node's start has ended: it starts nothing more, once told.
      await this.#services.stop(this.#starting)
      log('stopped')
      this.#resolveStopped()
    })()
    await this.#stopping
  }
}
