import { callRpc, RpcCallError, type RpcTarget } from '../../rpc/client.ts'
import { helpText, intFlag, parseFlags, UsageError, type Command } from '../command.ts'
import { endProgress, progressLine, readPassphrase, readSecret } from '../prompt.ts'
import { rpcTargetOf, targetFlagHelp, targetFlags } from './common.ts'

const flags = { ...targetFlags, 'fee-rate': { type: 'string' } } as const

interface Balance { confirmed: string, unconfirmed: string, immature: string }
interface HistoryRow { txid: string, category: string, amount: string, fee: string | null, confirmations: number, time: number }

type Sub = (target: RpcTarget, args: string[], values: Record<string, unknown>) => Promise<{ json: unknown, text: string }>

async function call (target: RpcTarget, method: string, params: unknown[] = []): Promise<unknown> {
  return await callRpc(target, method, params)
}

/** Runs a long RPC call while showing the wallet's rescan progress on a terminal. */
async function withRescanProgress<T> (target: RpcTarget, work: Promise<T>): Promise<T> {
  let done = false
  const poll = (async () => {
    while (!done) {
      await new Promise(resolve => setTimeout(resolve, 300))
      const info = await call(target, 'getwalletinfo').catch(() => undefined) as { scanning?: false | { height: number, tip: number } } | undefined
      if (!done && info?.scanning !== undefined && info.scanning !== false) progressLine(`rescanning the chain: block ${info.scanning.height} of ${info.scanning.tip}`)
    }
  })()
  try {
    return await work
  } finally {
    done = true
    await poll
    endProgress()
  }
}

const subcommands: Record<string, { usage: string, summary: string, run: Sub }> = {
  create: {
    usage: 'create',
    summary: 'make this node\'s wallet (asks for a passphrase; prints the mnemonic to write down)',
    async run (target) {
      const passphrase = await readPassphrase('new wallet passphrase: ')
      const r = await call(target, 'createwallet', [passphrase]) as { mnemonic: string, address: string }
      return { json: r, text: `wallet created.\n\nmnemonic (write it down; it is the only backup of your keys):\n  ${r.mnemonic}\n\nfirst address: ${r.address}` }
    }
  },
  restore: {
    usage: 'restore [WORD...]',
    summary: 'recreate the wallet from its mnemonic and rescan the chain (the mnemonic is asked on the terminal or read from COINTS_MNEMONIC when no words are given)',
    async run (target, args) {
      const mnemonic = args.length > 0 ? args.join(' ') : await readSecret('mnemonic (words separated by spaces): ', 'mnemonic', 'COINTS_MNEMONIC')
      const passphrase = await readPassphrase('passphrase for the restored wallet: ')
      const r = await withRescanProgress(target, call(target, 'restorewallet', [mnemonic.trim().split(/\s+/).join(' '), passphrase])) as { balance: Balance, txcount: number }
      return { json: r, text: `wallet restored: ${r.txcount} transactions, ${r.balance.confirmed} coins confirmed` }
    }
  },
  address: {
    usage: 'address',
    summary: 'a fresh receiving address',
    async run (target) {
      const address = await call(target, 'getnewaddress') as string
      return { json: { address }, text: address }
    }
  },
  balance: {
    usage: 'balance',
    summary: 'confirmed, unconfirmed and immature (not yet spendable coinbase) balances',
    async run (target) {
      const b = await call(target, 'getbalance') as Balance
      return { json: b, text: `confirmed    ${b.confirmed}\nunconfirmed  ${b.unconfirmed}\nimmature     ${b.immature}` }
    }
  },
  send: {
    usage: 'send ADDRESS AMOUNT [--fee-rate N]',
    summary: 'pay AMOUNT coins (a decimal, e.g. 1.5) to ADDRESS; asks for the passphrase when the wallet is locked',
    async run (target, args, values) {
      const [address, amount, ...extra] = args
      if (address === undefined || amount === undefined || extra.length > 0) throw new UsageError('BAD_FLAGS', 'usage: coints wallet send ADDRESS AMOUNT')
      const feeRate = intFlag('fee-rate', values['fee-rate'], 1, 1_000_000)
      const send = async (): Promise<string> => await call(target, 'sendtoaddress', feeRate === undefined ? [address, amount] : [address, amount, feeRate]) as string
      let txid: string
      try {
        txid = await send()
      } catch (err) {
        if (!(err instanceof RpcCallError) || err.code !== 'WALLET_LOCKED') throw err
        await call(target, 'walletpassphrase', [await readPassphrase('wallet passphrase: '), 60])
        txid = await send()
      }
      return { json: { txid }, text: `sent ${amount} to ${address}\ntxid ${txid}` }
    }
  },
  history: {
    usage: 'history',
    summary: 'the wallet\'s transactions, newest first',
    async run (target) {
      const rows = await call(target, 'listtransactions') as HistoryRow[]
      const lines = rows.map(r => `${new Date(r.time * 1000).toISOString().slice(0, 19).replace('T', ' ')}  ${r.category.padEnd(8)}  ${r.amount.padStart(14)}  ${String(r.confirmations).padStart(6)} conf  ${r.txid}`)
      return { json: rows, text: lines.length === 0 ? 'no transactions yet' : lines.join('\n') }
    }
  }
}

export const walletCommand: Command = {
  name: 'wallet',
  summary: 'Uses the running node\'s wallet: create, restore, address, balance, send, history. The passphrase is asked on the terminal, or read from COINTS_PASSPHRASE (a mnemonic to restore: COINTS_MNEMONIC).',
  usage: `coints wallet ${Object.keys(subcommands).join('|')} [options]\n${Object.values(subcommands).map(s => `  coints wallet ${s.usage.padEnd(36)} ${s.summary}`).join('\n')}`,
  flags: [...targetFlagHelp, ['--fee-rate N', 'fee in base units per byte (send; default from the node\'s config)'], ['--json', 'print one JSON value instead of text']],
  async run (argv) {
    const { values, positionals } = parseFlags(this, argv, flags, true)
    const [name, ...args] = positionals
    if (values.help === true || name === undefined) {
      console.log(helpText(this))
      return name === undefined && values.help !== true ? 2 : 0
    }
    const sub = subcommands[name]
    if (sub === undefined) throw new UsageError('BAD_FLAGS', `unknown wallet command "${name}"; one of: ${Object.keys(subcommands).join(', ')}`)
    const { json, text } = await sub.run(rpcTargetOf(values), args, values)
    console.log(values.json === true ? JSON.stringify(json, null, 2) : text)
    return 0
  }
}
