import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SERVER_MAIN = fileURLToPath(new URL('../../server/src/main.ts', import.meta.url))
const START_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 10_000

/** pino's numeric levels: 40 is warn, 50 error. */
const WARN_LEVEL = 40

/** The server of `npm start`, running in a child process on 127.0.0.1. */
export interface ServerProcess {
  /** http origin, for example `http://127.0.0.1:41234`. */
  url: string
  /** Server log lines at warn level or above so far. */
  warnings(): number
  /** Stops the server with SIGTERM, which stores every queued update, and waits for its exit. */
  stop(): Promise<void>
}

/**
 * Starts `server/src/main.ts` on a free port of 127.0.0.1 with the given data directory and
 * secret, and resolves once it listens. Its log lines go to logPath.
 */
export async function startServerProcess(options: {
  dataDir: string
  authSecret: string
  logPath: string
}): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      SERVER_MAIN,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--data-dir',
      options.dataDir,
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, AUTH_SECRET: options.authSecret, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const log = createWriteStream(options.logPath)
  child.stderr?.pipe(log)

  let warnings = 0
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(
        new Error(
          `the server did not listen within ${START_TIMEOUT_MS} ms; see ${options.logPath}`,
        ),
      )
    }, START_TIMEOUT_MS)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(
        new Error(`the server exited with code ${code} before listening; see ${options.logPath}`),
      )
    })
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    lines.on('line', (line) => {
      log.write(`${line}\n`)
      const entry = parseLogLine(line)
      if (entry === null) return
      if (typeof entry.level === 'number' && entry.level >= WARN_LEVEL) warnings += 1
      if (entry.msg === 'server listening' && typeof entry.url === 'string') {
        clearTimeout(timer)
        resolve(entry.url)
      }
    })
  })

  return {
    url,
    warnings: () => warnings,
    stop: () => stopChild(child).finally(() => log.end()),
  }
}

function parseLogLine(line: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(line)
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null
  } catch {
    return null
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
  await exited
  clearTimeout(timer)
}
