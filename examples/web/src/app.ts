import { createClient, type GroupSession, indexedDbStorage } from '@readmark/client-sdk/browser'
import { MessageList } from './message-list.ts'
import { ReceiptsDialog } from './receipts-dialog.ts'

/** Response of the example's `/session` endpoint: a token minted by the app's backend. */
interface SessionInfo {
  userId: string
  groupId: string
  token: string
  /** Name of this user's IndexedDB storage for the group. */
  storage: string
}

function element<T extends HTMLElement>(selector: string): T {
  const found = document.querySelector<T>(selector)
  if (found === null) throw new Error(`the page has no ${selector}`)
  return found
}

function showError(message: string): void {
  const error = element('#error')
  error.textContent = message
  error.hidden = false
}

/** Asks the example's backend for a token of the user named in `?user=`. */
async function fetchSession(userId: string): Promise<SessionInfo> {
  const response = await fetch(`/session?user=${encodeURIComponent(userId)}`)
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as {
      error?: { message?: string }
    } | null
    const reason = body?.error?.message ?? `status ${response.status}`
    throw new Error(`signing in as "${userId}" failed: ${reason}`)
  }
  return (await response.json()) as SessionInfo
}

function wireHeader(session: GroupSession, onlineSwitch: HTMLInputElement): void {
  const status = element('#status')
  const unread = element('#unread')
  const compose = element<HTMLFormElement>('#compose')

  const showStatus = () => {
    status.dataset.status = session.status
    status.textContent = onlineSwitch.checked ? session.status : 'offline (switched off)'
  }
  const showUnread = () => {
    const count = session.unreadCount() ?? 0
    unread.dataset.count = String(count)
    unread.textContent = `${count} unread`
  }
  session.on('status', showStatus)
  session.on('change', showUnread)
  showStatus()
  showUnread()

  onlineSwitch.addEventListener('change', () => {
    if (onlineSwitch.checked) session.connect()
    else session.disconnect()
    // The outbox sends over REST whatever the sync connection does, so sending waits for the switch.
    compose
      .querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, button')
      .forEach((control) => {
        control.disabled = !onlineSwitch.checked
      })
    showStatus()
  })

  compose.addEventListener('submit', (event) => {
    event.preventDefault()
    const input = compose.elements.namedItem('body') as HTMLInputElement
    const body = input.value.trim()
    if (body === '') return
    input.value = ''
    session.send(body).catch((error: unknown) => showError(`sending failed: ${String(error)}`))
  })
}

async function start(): Promise<void> {
  const userId = new URLSearchParams(location.search).get('user') ?? 'alice'
  const info = await fetchSession(userId)
  element('#group').textContent = `#${info.groupId}`
  element('#me').textContent = `signed in as ${info.userId}`

  const client = await createClient({
    url: location.origin,
    token: info.token,
    getToken: async () => (await fetchSession(userId)).token,
    deviceId: 'browser',
    storage: indexedDbStorage(`${info.storage}-${info.userId}`),
  })
  const session = await client.group(info.groupId)
  session.on('error', (error) => showError(`${error.code}: ${error.message}`))

  const onlineSwitch = element<HTMLInputElement>('#online')
  const dialog = new ReceiptsDialog(
    element<HTMLDialogElement>('#receipts'),
    session,
    async () => (await fetchSession(userId)).token,
    () => onlineSwitch.checked,
  )
  const list = new MessageList(element('#messages'), session, (seq) => void dialog.open(seq))
  session.on('change', () => list.render())
  list.render()
  wireHeader(session, onlineSwitch)

  window.addEventListener('pagehide', () => void client.close())
  document.body.dataset.ready = 'true'
}

start().catch((error: unknown) => showError(String(error)))
