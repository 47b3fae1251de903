import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The repository's root folder. */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))

/**
 * Polls until check returns true; throws with the description, and the last value describe
 * returns, after timeoutMs.
 */
export async function waitFor(
  description: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  describeLast?: () => string | Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) {
      const last = describeLast === undefined ? '' : `; last: ${await describeLast()}`
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${last}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Exit code and output of a finished child process. */
export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs a TypeScript entry point of the repository with tsx, as `npm run` would, and resolves when
 * it exits. Kills it and rejects after timeoutMs.
 */
export function runScript(script: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(
        new Error(
          `${script} ${args.join(' ')} did not exit within ${timeoutMs} ms:\n${stdout}\n${stderr}`,
        ),
      )
    }, timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}
