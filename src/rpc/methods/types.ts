import { RPC_METHODS, type RpcArgs, type RpcMethodName, type RpcMethods } from '../contract.ts'
import type { MethodDoc } from '../contract/types.ts'
import { validateParams, type ArgsOf, type ParamSpec } from '../params.ts'

/** A method as the server runs it: its description and params for `help`, and a run that validates the params first. */
export interface MethodSpec extends MethodDoc {
  /** Validates the request's params (ParamsError) and runs the handler; `method` is the name it was called by, for messages. */
  run: (method: string, params: unknown) => Promise<unknown>
}

export type MethodTable = Record<string, MethodSpec>

/** The handler of a contract method: its validated arguments by name in, its result out. */
export type Handler<M extends RpcMethodName> = (args: RpcArgs<M>) => Promise<RpcMethods[M]['result']>

export type Handlers<M extends RpcMethodName> = { [K in M]: Handler<K> }

/** A method of its own (tests serve such): the handler receives arguments typed by its specs. */
export function defineMethod<const P extends readonly ParamSpec[]> (doc: { description: string, params: P }, handler: (args: ArgsOf<P>) => Promise<unknown>): MethodSpec {
  return { description: doc.description, params: doc.params, run: async (method, params) => await handler(validateParams(method, doc.params, params)) }
}

function served<M extends RpcMethodName> (name: M, handler: Handler<M>): MethodSpec {
  return defineMethod<(typeof RPC_METHODS)[M]['params']>(RPC_METHODS[name], handler)
}

/** Contract methods served by their handlers, with the contract's descriptions and params (the node serves `serveMethods<RpcMethodName>`: all of them). */
export function serveMethods<M extends RpcMethodName> (handlers: Handlers<M>): MethodTable {
  const table: MethodTable = {}
  for (const name in handlers) table[name] = served(name, handlers[name])
  return table
}
