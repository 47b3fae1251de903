import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startWebExample, type WebExample } from '../examples/web/server.ts'
import { REPO_ROOT, waitFor } from './helpers.ts'

const CHROMIUM = '/usr/bin/chromium'
/** Flags headless Chromium needs on a machine without a network other than loopback. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
const SCREENSHOTS = join(REPO_ROOT, 'test-results')
/** Seq of the last message of the sample conversation, sent by alice. */
const LAST = 16

describe('web chat example', () => {
  let example: WebExample
  let browser: Browser
  const contexts: BrowserContext[] = []

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing; run "bash scripts/setup-chromium.sh" as root`)
    }
    example = await startWebExample()
    // launch() starts Chromium with a new, empty temporary profile (--user-data-dir) of its own.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    })
  }, 60_000)

  afterAll(async () => {
    for (const context of contexts) await context.close()
    await browser?.close()
    await example?.close()
  })

  /** Opens the page of a user in a browser context of its own, like a second device. */
  async function openPage(userId: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 720, height: 560 } })
    contexts.push(context)
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    await page.goto(`${example.url}/?user=${userId}`)
    await waitFor(
      `${userId}'s page to sync`,
      async () => (await page.getAttribute('#status', 'data-status')) === 'synced',
      15_000,
      () => `page errors: ${errors.join('; ') || 'none'}`,
    )
    return page
  }

  async function waitForText(page: Page, selector: string, expected: string): Promise<void> {
    await waitFor(
      `"${expected}" in ${selector}`,
      async () => (await page.textContent(selector))?.trim() === expected,
      10_000,
      async () => `"${(await page.textContent(selector))?.trim()}"`,
    )
  }

  const countsOf = (seq: number) => `.message[data-seq="${seq}"] .counts`

  async function serverWatermark(userId: string): Promise<number> {
    return (await example.api.summary(example.groupId)).watermarks[userId] ?? 0
  }

  it('shows counts to two users while one reads offline', async () => {
    const alice = await openPage('alice')
    const bob = await openPage('bob')

    // bob, carol and dave are the audience of alice's last message; none has read it.
    await waitForText(alice, countsOf(LAST), 'read 0 / unread 3')
    await waitForText(bob, countsOf(LAST), 'read 0 / unread 3')

    // bob's page opens at his first unread message and marks only the messages in view read.
    await waitFor('the server to store bob reading the first messages', async () => {
      return (await serverWatermark('bob')) > 0
    })
    expect(await serverWatermark('bob')).toBeLessThan(LAST)

    await bob.uncheck('#online')
    await waitForText(bob, '#status', 'offline (switched off)')

    // Scrolling down reads every message on the way, while offline.
    await bob.locator(`.message[data-seq="${LAST}"]`).scrollIntoViewIfNeeded()
    await waitForText(bob, '#unread', '0 unread')
    await waitForText(bob, countsOf(LAST), 'read 1 / unread 2')

    // The receipt is still only on bob's device.
    expect(await serverWatermark('bob')).toBeLessThan(LAST)
    expect((await alice.textContent(countsOf(LAST)))?.trim()).toBe('read 0 / unread 3')

    await bob.check('#online')
    await waitForText(bob, '#status', 'synced')
    await waitForText(alice, countsOf(LAST), 'read 1 / unread 2')
    await waitFor('the server to store bob reading the last message', async () => {
      return (await serverWatermark('bob')) === LAST
    })
    expect((await example.api.unread('bob')).total).toBe(0)

    // A message bob sends appears on alice's page, which is at the bottom and so reads it.
    await bob.fill('#compose input', 'Read it, looks good')
    await bob.click('#compose button')
    await waitForText(alice, `.message[data-seq="${LAST + 1}"] .body`, 'Read it, looks good')
    await waitForText(bob, countsOf(LAST + 1), 'read 1 / unread 2')

    await alice.click(countsOf(LAST))
    await waitForText(alice, '#receipts-source', 'From the server.')
    const readers = await alice
      .locator('#readers li')
      .evaluateAll((items) => items.map((item) => (item as HTMLElement).dataset.user))
    const unread = await alice
      .locator('#unread-members li')
      .evaluateAll((items) => items.map((item) => (item as HTMLElement).dataset.user))
    expect(readers).toEqual(['bob'])
    expect(await alice.locator('#readers li[data-user="bob"] time').count()).toBe(1)
    expect(unread).toEqual(['carol', 'dave'])

    mkdirSync(SCREENSHOTS, { recursive: true })
    await alice.screenshot({ path: join(SCREENSHOTS, 'web-example-alice.png') })
    await bob.screenshot({ path: join(SCREENSHOTS, 'web-example-bob.png') })
  }, 60_000)

  it('shows local lists to a member who may not see read times', async () => {
    const dave = await openPage('dave')

    await dave.click(countsOf(1))
    await waitFor('the receipts dialog to fill', async () => {
      const source = (await dave.textContent('#receipts-source')) ?? ''
      return source.startsWith('From this device')
    })
    const readers = await dave
      .locator('#readers li')
      .evaluateAll((items) => items.map((item) => (item as HTMLElement).dataset.user))
    // carol replied to #1 with #2, and sending counts as reading.
    expect(readers).toContain('carol')
    expect(await dave.locator('#readers time').count()).toBe(0)
  }, 30_000)

  it('refuses to sign in an unknown user', async () => {
    const response = await fetch(`${example.url}/session?user=mallory`)

    expect(response.status).toBe(404)
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('not_found')
  })
})
