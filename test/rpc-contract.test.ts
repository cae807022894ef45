/**
 * The RPC contract's types and the specs the server validates are one: the
 * params' types are derived from the specs, so what the typed client may send
 * is what the server accepts, and a handler receives what validation gives.
 * The type checks below run with `npm run typecheck` (each @ts-expect-error
 * fails it when its line stops being an error); the tests check the same
 * specs at run time.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RPC_GROUPS, RPC_METHODS, type HeaderView, type RawTransactionView, type RpcArgs, type RpcCall, type RpcMethodName } from '../src/rpc/contract.ts'
import { serveMethods } from '../src/rpc/methods/types.ts'
import { validateParams, type ParamSpec } from '../src/rpc/params.ts'

/** Compiled, never run: what the typed client accepts and what it answers. */
export async function typedCalls (call: RpcCall): Promise<void> {
  const count: number = await call('getblockcount')
  const ids: string[] = await call('generate', [1])
  await call('generate', [1, 'rcoin1q…'])
  await call('sendtoaddress', ['rcoin1q…', '1.5'])
  await call('sendtoaddress', ['rcoin1q…', 2, 5])
  await call('getarrivals', [['bafy…']])
  const header: HeaderView = await call('getblockheader', ['bafy…'])
  const headerHex: string = await call('getblockheader', ['bafy…', false])
  const rawHex: string = await call('getrawtransaction', ['bafy…'])
  const raw: RawTransactionView = await call('getrawtransaction', ['bafy…', true, 'bafy…'])
  // @ts-expect-error getblockhash needs its height
  await call('getblockhash')
  // @ts-expect-error a height is an integer, not text
  await call('getblockhash', ['1'])
  // @ts-expect-error generate takes two params at most
  await call('generate', [1, 'rcoin1q…', 3])
  // @ts-expect-error an amount is a decimal string or a whole number, never a bigint on the wire
  await call('sendtoaddress', ['rcoin1q…', 1n])
  // @ts-expect-error getarrivals takes a list of ids
  await call('getarrivals', ['bafy…'])
  // @ts-expect-error no such method
  await call('getinfo')
  // @ts-expect-error getbestblockhash answers a string
  const wrong: number = await call('getbestblockhash')
  // @ts-expect-error verbose getblockheader answers a header, not hex
  const notHex: string = await call('getblockheader', ['bafy…', true])
  void [count, ids, header, headerHex, rawHex, raw, wrong, notHex]
}

/** Compiled, never run: the node's handlers must cover the contract, each with its arguments and result. */
export function servedHandlers (): void {
  // @ts-expect-error every method of the contract needs a handler
  serveMethods<RpcMethodName>({ getblockcount: async () => 0 })
  // @ts-expect-error getblockcount answers a number
  serveMethods<'getblockcount'>({ getblockcount: async () => '0' })
  serveMethods<'sendtoaddress'>({
    sendtoaddress: async ({ address, amount, feerate }) => {
      const units: bigint = amount
      const rate: number | undefined = feerate
      return `${address} ${units} ${rate}`
    }
  })
}

test('every method of the contract is in exactly one group of help, with a description and params the validator knows', () => {
  const grouped = RPC_GROUPS.flatMap(g => Object.keys(g.methods))
  assert.equal(new Set(grouped).size, grouped.length, 'no method in two groups')
  assert.deepEqual(new Set(grouped), new Set(Object.keys(RPC_METHODS)))
  for (const [name, doc] of Object.entries(RPC_METHODS)) {
    assert.ok(doc.description.length > 10, `${name} has a description`)
    const params: readonly ParamSpec[] = doc.params
    const names = params.map(p => p.name)
    assert.equal(new Set(names).size, names.length, `${name}'s params have distinct names`)
    const firstOptional = params.findIndex(p => p.optional === true)
    assert.ok(firstOptional === -1 || params.slice(firstOptional).every(p => p.optional === true), `${name}: optional params come last, as WireParams types them`)
  }
})

test('a handler receives what validation gives: arguments by name, amounts as bigint units, optional ones absent', () => {
  const send: RpcArgs<'sendtoaddress'> = validateParams('sendtoaddress', RPC_METHODS.sendtoaddress.params, ['rcoin1qaddress', '1.5'])
  assert.deepEqual(send, { address: 'rcoin1qaddress', amount: 150_000_000n })
  const named: RpcArgs<'getrawtransaction'> = validateParams('getrawtransaction', RPC_METHODS.getrawtransaction.params, { txid: 'bafy', verbose: true })
  assert.deepEqual(named, { txid: 'bafy', verbose: true })
  const ban: RpcArgs<'setban'> = validateParams('setban', RPC_METHODS.setban.params, ['10.0.0.0/8', 'add', 60, true])
  assert.deepEqual(ban, { target: '10.0.0.0/8', command: 'add', bantime: 60, absolute: true })
})
