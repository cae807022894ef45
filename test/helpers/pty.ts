/**
 * A program on a real pseudo-terminal, as a user at a terminal runs it: Python's
 * pty module forks it onto a pty and relays our writes to the terminal and
 * everything the terminal shows (its stdout and stderr, and any echo) back.
 */
import { spawn } from 'node:child_process'
import type { TestContext } from 'node:test'
import { waitFor } from './node-harness.ts'

const RELAY = `
import os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
inputs = [fd, 0]
while True:
    ready, _, _ = select.select(inputs, [], [])
    if fd in ready:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        os.write(1, data)
    if 0 in ready:
        data = os.read(0, 4096)
        if data:
            os.write(fd, data)
        else:
            inputs.remove(0)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
`

export interface PtySession {
  /** Everything the terminal has shown so far. */
  readonly screen: string
  /** Types text at the terminal (a key press each character; "\r" is Enter). */
  type: (text: string) => void
  /** Waits until the terminal has shown `text` (after `from` characters); returns where it ends. */
  waitForText: (text: string, from?: number) => Promise<number>
  /** The program's exit status. */
  readonly exited: Promise<number>
}

/** Runs the program on a pty; it is killed (with the terminal) after the test if still running. */
export function onPty (t: TestContext, command: string, args: string[], env: Record<string, string | undefined> = process.env): PtySession {
  const child = spawn('python3', ['-c', RELAY, command, ...args], { env, stdio: ['pipe', 'pipe', 'inherit'] })
  // Closing the terminal hangs up on the program (SIGHUP), as closing a terminal window does.
  t.after(() => { child.kill('SIGKILL') })
  let screen = ''
  child.stdout.on('data', (d: Buffer) => { screen += d.toString() })
  const exited = new Promise<number>(resolve => child.once('exit', code => { resolve(code ?? 1) }))
  return {
    get screen () { return screen },
    type: text => { child.stdin.write(text) },
    waitForText: async (text, from = 0) => await waitFor(() => {
      const at = screen.indexOf(text, from)
      return at < 0 ? undefined : at + text.length
    }, `the terminal to show ${JSON.stringify(text)} (it shows ${JSON.stringify(screen.slice(from))})`),
    exited
  }
}
