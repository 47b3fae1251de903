/** Stable codes of ReadmarkError, meant for programs. */
export type ReadmarkErrorCode =
  /** createClient, a storage or a method got an invalid argument or option. */
  | 'invalid-argument'
  /** Another running instance holds the storage's lock. */
  | 'storage-locked'
  /** Reading or writing the local replica failed. */
  | 'storage-failed'
  /** The server rejected the token and no getToken can replace it, or getToken failed. */
  | 'invalid-token'
  /** The user is not a member of the group, or was removed from it; the session stopped syncing. */
  | 'not-member'
  /** The group does not exist; the session stopped syncing. */
  | 'group-not-found'
  /** The server rejected a local update; the replica starts again from the server's state. */
  | 'update-rejected'
  /** The server rejected a message for good; the outbox dropped it. */
  | 'send-rejected'
  /** The client or session was closed before the operation finished. */
  | 'closed'

/** The one error type of the SDK. `serverCode` is the REST error code when the server sent one. */
export class ReadmarkError extends Error {
  override readonly name = 'ReadmarkError'
  readonly code: ReadmarkErrorCode
  readonly status: number | undefined
  readonly serverCode: string | undefined

  constructor(
    code: ReadmarkErrorCode,
    message: string,
    details: { cause?: unknown; status?: number; serverCode?: string } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.status = details.status
    this.serverCode = details.serverCode
  }
}
