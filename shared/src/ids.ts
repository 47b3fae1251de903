import { z } from 'zod'

/** Group, user and device ids: 1 to 128 letters, digits or `_ . : @ -`. */
export const ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/

export const idSchema = z
  .string()
  .regex(ID_PATTERN, 'must be 1 to 128 characters from A-Z a-z 0-9 _ . : @ -')

/**
 * Device id under which the server writes the watermarks it sets for a user: on join, on send and
 * for `POST /read`. `~` is outside ID_PATTERN, so no client device can take this name.
 */
export const SERVER_DEVICE = '~server'

/** Parsed form of a `receipts` key `<userId>/<deviceId>`. */
export interface ReceiptKey {
  userId: string
  deviceId: string
}

/** Builds the `receipts` key of a user's device. */
export function receiptKey(userId: string, deviceId: string): string {
  return `${userId}/${deviceId}`
}

/**
 * Parses a `receipts` key. Returns null unless both parts are valid ids, except that the device
 * may be SERVER_DEVICE.
 */
export function parseReceiptKey(key: string): ReceiptKey | null {
  const slash = key.indexOf('/')
  if (slash < 0) return null

  const userId = key.slice(0, slash)
  const deviceId = key.slice(slash + 1)
  if (!ID_PATTERN.test(userId)) return null
  if (deviceId !== SERVER_DEVICE && !ID_PATTERN.test(deviceId)) return null
  return { userId, deviceId }
}
