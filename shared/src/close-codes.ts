/**
 * WebSocket close codes the sync endpoint uses. Codes 4000 to 4999 are reserved for applications
 * by RFC 6455; the others are the standard ones.
 */
export const CloseCode = {
  /** The server is shutting down; reconnect later. */
  goingAway: 1001,
  /** The connection broke the protocol, or kept sending updates the server rejected. */
  policyViolation: 1008,
  /** A frame was larger than the server's maximum frame size. */
  messageTooBig: 1009,
  /** The token is missing, malformed, has a bad signature or is expired; get a new token. */
  invalidToken: 4401,
  /** The user is not a member of the group, or was removed from it. */
  notMember: 4403,
  /** The group does not exist. */
  groupNotFound: 4404,
  /** The group id in the URL is not a valid id. */
  invalidGroupId: 4400,
  /** The user already has the maximum number of open connections. */
  tooManyConnections: 4429,
} as const

export type CloseCodeName = keyof typeof CloseCode
