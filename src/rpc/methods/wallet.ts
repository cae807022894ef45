import { formatAmount } from '../../core/amount.ts'
import { CointsError } from '../../core/errors.ts'
import { toHex } from '../../core/hash.ts'
import type { Balance, Wallet, WalletInfo, WalletTransaction, WalletTxSummary } from '../../wallet/wallet.ts'
import type { BalanceView, WalletInfoView, WalletResults, WalletTransactionView, WalletTxRow } from '../contract/wallet.ts'
import type { Handlers } from './types.ts'

function balanceView (b: Balance): BalanceView {
  return { confirmed: formatAmount(b.confirmed), unconfirmed: formatAmount(b.unconfirmed), immature: formatAmount(b.immature) }
}

function infoView (info: WalletInfo): WalletInfoView {
  return {
    exists: info.exists,
    network: info.network,
    locked: info.locked,
    unlocked_until: info.unlockedUntil === undefined ? 0 : Math.floor(info.unlockedUntil / 1000),
    receive_index: info.receiveIndex,
    change_index: info.changeIndex,
    birth_height: info.birthHeight ?? null,
    txcount: info.txCount,
    scanning: info.scanning,
    lastprocessedblock: info.lastProcessed === undefined ? null : { hash: info.lastProcessed.id, height: info.lastProcessed.height },
    scan_error: info.scanError === undefined ? null : { code: info.scanError.code, message: info.scanError.message }
  }
}

function txRow (t: WalletTxSummary): WalletTxRow {
  return { txid: t.txid, category: t.category, amount: formatAmount(t.net), fee: t.fee === undefined ? null : formatAmount(t.fee), confirmations: t.confirmations, height: t.height, time: t.time }
}

/** As Bitcoin Core's gettransaction: the amount without the fee, the fee and the amounts sent negative. */
function transactionView (t: WalletTransaction): WalletTransactionView {
  const { fee, block } = t
  return {
    amount: formatAmount(fee === undefined ? t.net : t.net + fee),
    ...(fee === undefined ? {} : { fee: formatAmount(-fee) }),
    confirmations: t.confirmations,
    ...(t.tx.isCoinbase ? { generated: true } : {}),
    ...(block === undefined ? {} : { blockhash: block.id, blockheight: block.height, blockindex: block.index ?? null, blocktime: block.time }),
    txid: t.txid,
    time: t.time,
    timereceived: t.time,
    details: t.outputs.map(o => o.category === 'send' && fee !== undefined
      ? { address: o.address, category: o.category, amount: formatAmount(-o.amount), vout: o.vout, fee: formatAmount(-fee) }
      : { address: o.address, category: o.category, amount: formatAmount(o.amount), vout: o.vout }),
    hex: toHex(t.tx.bytes)
  }
}

/** Wallet methods: the wallet's domain objects in the contract's wire shape (decimal amounts, Core's names). */
export function walletMethods (wallet: Wallet): Handlers<keyof WalletResults> {
  return {
    createwallet: async ({ passphrase, bip39passphrase }) => {
      const mnemonic = await wallet.create(passphrase, bip39passphrase)
      return { mnemonic, address: (await wallet.newAddress()).address }
    },
    restorewallet: async ({ mnemonic, passphrase, bip39passphrase }) => {
      await wallet.restore(mnemonic, passphrase, bip39passphrase)
      return { balance: balanceView(await wallet.balance()), txcount: (await wallet.transactions()).length }
    },
    getwalletinfo: async () => infoView(wallet.info()),
    getnewaddress: async () => (await wallet.newAddress()).address,
    getbalance: async () => balanceView(await wallet.balance()),
    listunspent: async () => (await wallet.coins()).map(c => ({
      txid: c.tx.idString,
      index: c.index,
      address: c.owner.address,
      amount: formatAmount(c.amount),
      confirmations: c.height === null ? 0 : wallet.tipHeight - c.height + 1,
      state: c.state,
      coinbase: c.coinbase
    })),
    sendtoaddress: async ({ address, amount, feerate }) => await wallet.send(address, amount, feerate),
    listtransactions: async () => (await wallet.transactions()).map(txRow),
    walletpassphrase: async ({ passphrase, seconds }) => {
      await wallet.unlock(passphrase, seconds)
      return null
    },
    gettransaction: async ({ txid }) => {
      const tx = await wallet.transaction(txid)
      if (tx === undefined) throw new CointsError('NOT_FOUND', `transaction ${txid} is not the wallet's`)
      return transactionView(tx)
    },
    backupwallet: async ({ destination }) => {
      await wallet.backup(destination)
      return null
    },
    walletpassphrasechange: async ({ oldpassphrase, newpassphrase }) => {
      await wallet.changePassphrase(oldpassphrase, newpassphrase)
      return null
    },
    walletlock: async () => {
      wallet.lock()
      return null
    }
  }
}
