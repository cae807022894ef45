/**
 * The RPC contract: every method's params (the specs the server validates,
 * from which their types are derived, so the two cannot drift apart) and its
 * result type. The server's handlers are typed by it (methods/types.ts), and so
 * is every caller through the client (client.ts): wire names and formatting
 * live here and in methods/, nowhere below.
 */
import { CHAIN_METHODS, type ChainResults, type HeaderView, type RawTransactionView } from './contract/chain.ts'
import { CONTROL_METHODS, type ControlResults } from './contract/control.ts'
import { NETWORK_METHODS, type NetworkResults } from './contract/network.ts'
import { WALLET_METHODS, type WalletResults } from './contract/wallet.ts'
import type { ArgsOf, WireParams } from './params.ts'

export type * from './contract/chain.ts'
export type * from './contract/control.ts'
export type * from './contract/network.ts'
export type * from './contract/types.ts'
export type * from './contract/wallet.ts'

/** The groups `help` lists, in its order (Bitcoin Core's "== Blockchain ==" and so on). */
export const RPC_GROUPS = [
  { name: 'Blockchain', methods: CHAIN_METHODS },
  { name: 'Network', methods: NETWORK_METHODS },
  { name: 'Wallet', methods: WALLET_METHODS },
  { name: 'Control', methods: CONTROL_METHODS }
] as const

export const RPC_METHODS = { ...CHAIN_METHODS, ...NETWORK_METHODS, ...WALLET_METHODS, ...CONTROL_METHODS }

export type RpcMethodName = keyof typeof RPC_METHODS

type RpcResults = ChainResults & NetworkResults & WalletResults & ControlResults

/** The contract as one map: each method's positional params, as a client sends them, and its result. */
export type RpcMethods = { [M in RpcMethodName]: { params: WireParams<(typeof RPC_METHODS)[M]['params']>, result: RpcResults[M] } }

export type RpcParams<M extends RpcMethodName> = RpcMethods[M]['params']

/** A method's validated arguments by name, as its handler receives them (amounts as bigint). */
export type RpcArgs<M extends RpcMethodName> = ArgsOf<(typeof RPC_METHODS)[M]['params']>

/** The second param's type when given (the verbose flag of getblockheader and getrawtransaction), else undefined. */
type Second<P> = P extends readonly [unknown, infer V, ...unknown[]] ? V : undefined

/** `IfTrue` for a flag known true, `IfFalse` for one known false, either for a flag known only as a boolean. */
type ByFlag<V, IfTrue, IfFalse> = [V] extends [true] ? IfTrue : [V] extends [false] ? IfFalse : IfTrue | IfFalse

/**
 * A call's result for the params it is given: getblockheader (verbose by
 * default) and getrawtransaction (hex by default) answer by their verbose
 * flag, as Bitcoin Core's; every other method by the contract alone.
 */
export type RpcResult<M extends RpcMethodName, P = RpcParams<M>> =
  M extends 'getblockheader' ? ByFlag<Second<P> extends undefined | null ? true : Second<P>, HeaderView, string>
    : M extends 'getrawtransaction' ? ByFlag<Second<P> extends undefined | null ? false : Second<P>, RawTransactionView, string>
      : RpcMethods[M]['result']

/** A call's params: optional when the method needs none. */
export type RpcCallParams<M extends RpcMethodName, P> = [] extends RpcParams<M> ? [params?: P] : [params: P]

/** A typed call of the contract, whatever carries it: params and result as the method declares them. */
export type RpcCall = <M extends RpcMethodName, const P extends RpcParams<M> = RpcParams<M>>(method: M, ...params: RpcCallParams<M, P>) => Promise<RpcResult<M, P>>
