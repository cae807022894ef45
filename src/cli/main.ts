import { CointsError } from '../core/errors.ts'
import { VERSION } from '../util/version.ts'
import { UsageError, type Command } from './command.ts'
import { exportCommand, importCommand } from './commands/car.ts'
import { nodeCommand } from './commands/node.ts'
import { rpcCommand } from './commands/rpc.ts'
import { rpcauthCommand } from './commands/rpcauth.ts'
import { statusCommand } from './commands/status.ts'
import { swarmCommand } from './commands/swarm.ts'
import { walletCommand } from './commands/wallet.ts'
import { CancelledError } from './prompt.ts'
import { forwardedSignal, isStopSignal } from './signals.ts'

const commands: Command[] = [nodeCommand, statusCommand, walletCommand, rpcCommand, exportCommand, importCommand, rpcauthCommand, swarmCommand]

function usage (): string {
  return [
    'usage: coints <command> [options]',
    '',
    'commands:',
    ...commands.map(c => `  ${c.name.padEnd(8)}  ${c.summary.split('. ')[0]}`),
    '',
    'coints <command> --help explains a command\'s options; coints --version prints the version.'
  ].join('\n')
}

async function main (argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage())
    return name === undefined ? 2 : 0
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    console.log(`coints ${VERSION}`)
    return 0
  }
  const command = commands.find(c => c.name === name)
  if (command === undefined) throw new UsageError('UNKNOWN_COMMAND', `unknown command "${name}"\n\n${usage()}`)
  return await command.run(rest)
}

// Started by bin/coints.js: it forwards the signals it gets over IPC, and its channel closes when it dies,
// even by SIGKILL: then stop as on SIGTERM.
if (process.channel !== undefined) {
  process.on('message', (message: { signal?: unknown }) => { if (isStopSignal(message?.signal)) forwardedSignal(message.signal) })
  process.once('disconnect', () => { forwardedSignal('SIGTERM') })
  // After the listeners, which ref the channel: it must not keep this process alive.
  process.channel.unref()
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (err) {
  if (err instanceof CancelledError) {
    process.stderr.write(`coints: ${err.reason}\n`)
    process.exitCode = 130
  } else if (err instanceof UsageError) {
    process.stderr.write(`coints: ${err.reason}\n`)
    process.exitCode = 2
  } else if (err instanceof CointsError) {
    process.stderr.write(`coints: ${err.message}\n`)
    process.exitCode = 1
  } else {
    process.stderr.write(`coints: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  }
}

