/**
 * Runs inside a LAN host's namespace for `coints swarm --mode lan`: relays JSON
 * lines {id, method, params} from stdin to the node's RPC on that host's
 * loopback and answers {id, result} or {id, error} on stdout.
 */
import { createInterface } from 'node:readline'
import { callRpcRaw } from '../rpc/client.ts'

const [datadir, port, timeoutMs] = process.argv.slice(2)
const lines = createInterface({ input: process.stdin })
lines.on('line', line => {
  let request: { id: number, method: string, params: unknown[] }
  try {
    request = JSON.parse(line)
  } catch {
    return
  }
  callRpcRaw({ datadir, port: Number(port), timeoutMs: Number(timeoutMs) }, request.method, request.params).then(
    result => { process.stdout.write(JSON.stringify({ id: request.id, result }) + '\n') },
    (err: Error & { code?: string }) => { process.stdout.write(JSON.stringify({ id: request.id, error: { code: err.code ?? 'ERROR', message: err.message } }) + '\n') }
  )
})
lines.on('close', () => { process.exit(0) })
