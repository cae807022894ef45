import { resolve } from 'node:path'
import { rpcClient, RpcCallError, type RpcTarget } from '../../rpc/client.ts'
import { helpText, intFlag, parseFlags, UsageError, type Command } from '../command.ts'
import { endProgress, progressLine, readNewSecret, readSecret, walletPassphrase, type SecretSource } from '../prompt.ts'
import { rpcTargetOf, targetFlagHelp, targetFlags } from './common.ts'

const flags = { ...targetFlags, 'fee-rate': { type: 'string' }, 'bip39-passphrase': { type: 'boolean' } } as const

const BIP39_PASSPHRASE: SecretSource = { question: 'BIP39 passphrase (the mnemonic\'s extension, not the wallet\'s passphrase): ', envVar: 'COINTS_BIP39_PASSPHRASE', what: 'BIP39 passphrase' }

type Sub = (target: RpcTarget, args: string[], values: Record<string, unknown>) => Promise<{ json: unknown, text: string }>

/** Asks the node before any prompt: no passphrase is typed for a node that is not there or already has a wallet. */
async function requireNoWallet (target: RpcTarget): Promise<void> {
  const info = await rpcClient(target)('getwalletinfo')
  if (info.exists) throw new UsageError('WALLET_EXISTS', `the node of ${target.datadir} already has a wallet`)
}

/** The BIP39 passphrase when --bip39-passphrase or COINTS_BIP39_PASSPHRASE asks for one (twice on a terminal), else none. */
async function bip39PassphraseOf (values: Record<string, unknown>): Promise<[] | [string]> {
  if (values['bip39-passphrase'] !== true && process.env[BIP39_PASSPHRASE.envVar] === undefined) return []
  return [await readNewSecret(BIP39_PASSPHRASE, true)]
}

/** Runs a long RPC call while showing the wallet's rescan progress on a terminal. */
async function withRescanProgress<T> (target: RpcTarget, work: Promise<T>): Promise<T> {
  let done = false
  const poll = (async () => {
    while (!done) {
      await new Promise(resolve => setTimeout(resolve, 300))
      const info = await rpcClient(target)('getwalletinfo').catch(() => undefined)
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
    usage: 'create [--bip39-passphrase]',
    summary: 'make this node\'s wallet (asks twice for a passphrase, and for a BIP39 passphrase with --bip39-passphrase; prints the mnemonic to write down)',
    async run (target, _args, values) {
      await requireNoWallet(target)
      const passphrase = await readNewSecret(walletPassphrase('new wallet passphrase: '))
      const bip39 = await bip39PassphraseOf(values)
      const r = await rpcClient(target)('createwallet', [passphrase, ...bip39])
      const note = bip39.length > 0 ? ', with the BIP39 passphrase: the words alone restore another wallet' : ''
      return { json: r, text: `wallet created.\n\nmnemonic (write it down; it is the only backup of your keys${note}):\n  ${r.mnemonic}\n\nfirst address: ${r.address}` }
    }
  },
  restore: {
    usage: 'restore [WORD...] [--bip39-passphrase]',
    summary: 'recreate the wallet from its mnemonic (and BIP39 passphrase) and rescan the chain (the mnemonic is asked on the terminal or read from COINTS_MNEMONIC when no words are given)',
    async run (target, args, values) {
      await requireNoWallet(target)
      const mnemonic = args.length > 0 ? args.join(' ') : await readSecret({ question: 'mnemonic (words separated by spaces): ', envVar: 'COINTS_MNEMONIC', what: 'mnemonic' })
      const passphrase = await readNewSecret(walletPassphrase('passphrase for the restored wallet: '))
      const bip39 = await bip39PassphraseOf(values)
      const r = await withRescanProgress(target, rpcClient(target)('restorewallet', [mnemonic.trim().split(/\s+/).join(' '), passphrase, ...bip39]))
      return { json: r, text: `wallet restored: ${r.txcount} transactions, ${r.balance.confirmed} coins confirmed` }
    }
  },
  address: {
    usage: 'address',
    summary: 'a fresh receiving address',
    async run (target) {
      const address = await rpcClient(target)('getnewaddress')
      return { json: { address }, text: address }
    }
  },
  balance: {
    usage: 'balance',
    summary: 'confirmed, unconfirmed and immature (not yet spendable coinbase) balances',
    async run (target) {
      const b = await rpcClient(target)('getbalance')
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
      const send = async (): Promise<string> => await rpcClient(target)('sendtoaddress', feeRate === undefined ? [address, amount] : [address, amount, feeRate])
      let txid: string
      try {
        txid = await send()
      } catch (err) {
        if (!(err instanceof RpcCallError) || err.code !== 'WALLET_LOCKED') throw err
        await rpcClient(target)('walletpassphrase', [await readSecret(walletPassphrase()), 60])
        txid = await send()
      }
      return { json: { txid }, text: `sent ${amount} to ${address}\ntxid ${txid}` }
    }
  },
  passphrase: {
    usage: 'passphrase',
    summary: 'encrypt the wallet under a new passphrase (asks for the current one, then twice for the new; or COINTS_PASSPHRASE and COINTS_NEW_PASSPHRASE)',
    async run (target) {
      await rpcClient(target)('getwalletinfo')
      const current = await readSecret(walletPassphrase('current wallet passphrase: '))
      const next = await readNewSecret({ question: 'new wallet passphrase: ', envVar: 'COINTS_NEW_PASSPHRASE', what: 'passphrase' })
      await rpcClient(target)('walletpassphrasechange', [current, next])
      return { json: { changed: true }, text: 'wallet passphrase changed' }
    }
  },
  backup: {
    usage: 'backup FILE',
    summary: 'copy the wallet file (encrypted) to FILE or into a directory, on the node\'s machine',
    async run (target, args) {
      const [file, ...extra] = args
      if (file === undefined || extra.length > 0) throw new UsageError('BAD_FLAGS', 'usage: coints wallet backup FILE')
      // The node resolves nothing: it runs in another directory than this command.
      const path = resolve(file)
      await rpcClient(target)('backupwallet', [path])
      return { json: { path }, text: `wallet backed up to ${path}` }
    }
  },
  history: {
    usage: 'history',
    summary: 'the wallet\'s transactions, newest first',
    async run (target) {
      const rows = await rpcClient(target)('listtransactions')
      const lines = rows.map(r => `${new Date(r.time * 1000).toISOString().slice(0, 19).replace('T', ' ')}  ${r.category.padEnd(8)}  ${r.amount.padStart(14)}  ${String(r.confirmations).padStart(6)} conf  ${r.txid}`)
      return { json: rows, text: lines.length === 0 ? 'no transactions yet' : lines.join('\n') }
    }
  }
}

export const walletCommand: Command = {
  name: 'wallet',
  summary: 'Uses the running node\'s wallet: create, restore, address, balance, send, history. The passphrase is asked on the terminal, or read from COINTS_PASSPHRASE (a mnemonic to restore: COINTS_MNEMONIC).',
  usage: `coints wallet ${Object.keys(subcommands).join('|')} [options]\n${Object.values(subcommands).map(s => `  coints wallet ${s.usage.padEnd(36)} ${s.summary}`).join('\n')}`,
  flags: [
    ...targetFlagHelp,
    ['--fee-rate N', 'fee in base units per byte (send; default from the node\'s config)'],
    ['--bip39-passphrase', 'create, restore: ask for a BIP39 passphrase too (or COINTS_BIP39_PASSPHRASE), as other wallets\' "25th word"'],
    ['--json', 'print one JSON value instead of text']
  ],
  async run (argv) {
    const { values, positionals } = parseFlags(this, argv, flags, true)
    const [name, ...args] = positionals
    if (values.help === true || name === undefined) {
      console.log(helpText(this))
      return name === undefined && values.help !== true ? 2 : 0
    }
    const sub = subcommands[name]
    if (sub === undefined) throw new UsageError('BAD_FLAGS', `unknown wallet command "${name}"; one of: ${Object.keys(subcommands).join(', ')}`)
    const { json, text } = await sub.run(await rpcTargetOf(values), args, values)
    console.log(values.json === true ? JSON.stringify(json, null, 2) : text)
    return 0
  }
}
