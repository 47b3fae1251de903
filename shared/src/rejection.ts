/** Stable reasons for a rejected update. */
export type RejectReason =
  | 'malformed'
  | 'gap'
  | 'foreign-client'
  | 'foreign-key'
  | 'invalid-key'
  | 'server-root'
  | 'nested-type'
  | 'invalid-structure'
  | 'invalid-value'
  | 'beyond-head'
  | 'lower-value'
  | 'forbidden-delete'

/**
 * The error that every step of the update check throws to reject an update. validateUpdate turns
 * it into a rejected Verdict with the same reason and detail.
 */
export class Rejection extends Error {
  constructor(
    readonly reason: RejectReason,
    detail: string,
  ) {
    super(detail)
  }
}
