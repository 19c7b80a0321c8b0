/**
 * Large text messages taken from the websocket as bytes, never joined or decoded on the main
 * thread.
 *
 * ws 7 (chrome-remote-interface's own copy) makes every text message one string on the main
 * thread, each in one step: it copies the frame's payload out of the socket's chunks into one
 * buffer (~50 ms for 60 MiB, measured), checks the UTF-8 in JavaScript (~100 ms) and decodes it
 * (~100-200 ms). For a text message over the given size `takeLargeMessagesAsBytes` hands over
 * the socket's chunks themselves instead, and the reader thread (parse-worker.ts) joins, checks
 * and decodes them.
 *
 * It replaces two methods of the websocket's receiver (ws 7, lib/receiver.js), for large text
 * frames only, repeating the receiver's own bookkeeping as ws 7 does it: `consume`, which joins
 * a frame's payload, and `dataMessage`, which ends a message. A receiver without the fields it
 * expects (another ws) is left alone; large messages then arrive as strings and are read
 * off-thread all the same.
 */

/** A text message as its UTF-8 bytes, in pieces. */
export class TextBytes {
  constructor(readonly chunks: readonly Uint8Array[]) {}
}

/** The payload of one large frame, unjoined: stands in for the Buffer `consume` returns. */
class Pieces {
  constructor(
    readonly pieces: readonly Uint8Array[],
    /** Bytes, as a Buffer's length (the receiver checks it). */
    readonly length: number,
  ) {}
}

/** Characters of a text message, bytes of one handed over as bytes: either way at most its UTF-8 size. */
export const messageSize = (data: string | TextBytes): number =>
  typeof data === 'string' ? data.length : data.chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0)

type Receiver = Record<string, unknown>

const GET_DATA = 4
const GET_INFO = 0
const TEXT = 1

export function takeLargeMessagesAsBytes(ws: object, overBytes: number, take: (bytes: TextBytes) => void): void {
  const receiver = (ws as { _receiver?: Receiver })._receiver
  if (
    receiver === undefined ||
    typeof receiver['dataMessage'] !== 'function' ||
    typeof receiver['consume'] !== 'function' ||
    !Array.isArray(receiver['_fragments']) ||
    !Array.isArray(receiver['_buffers']) ||
    typeof receiver['_bufferedBytes'] !== 'number' ||
    typeof receiver['_messageLength'] !== 'number' ||
    typeof receiver['_state'] !== 'number'
  ) {
    return
  }
  const consume = receiver['consume'] as (n: number) => unknown
  receiver['consume'] = function (this: Receiver, n: number): unknown {
    // The payload of a large text frame (or of a continuation of one: ws keeps the message's opcode).
    if (n <= overBytes || this['_state'] !== GET_DATA || this['_opcode'] !== TEXT || this['_masked'] === true || this['_compressed'] === true) {
      return consume.call(this, n)
    }
    const buffers = this['_buffers'] as Uint8Array[]
    this['_bufferedBytes'] = (this['_bufferedBytes'] as number) - n
    const pieces: Uint8Array[] = []
    let left = n
    while (left > 0) {
      const buffer = buffers[0]!
      if (left >= buffer.length) {
        pieces.push(buffers.shift()!)
        left -= buffer.length
      } else {
        pieces.push(buffer.subarray(0, left))
        buffers[0] = buffer.subarray(left)
        left = 0
      }
    }
    return new Pieces(pieces, n)
  }
  const dataMessage = receiver['dataMessage'] as () => unknown
  receiver['dataMessage'] = function (this: Receiver): unknown {
    if (this['_fin'] !== true || this['_opcode'] !== TEXT || (this['_messageLength'] as number) <= overBytes) {
      return dataMessage.call(this)
    }
    const fragments = this['_fragments'] as Array<Uint8Array | Pieces>
    this['_totalPayloadLength'] = 0
    this['_messageLength'] = 0
    this['_fragmented'] = 0
    this['_numFragments'] = 0
    this['_fragments'] = []
    this['_state'] = GET_INFO
    take(new TextBytes(fragments.flatMap((fragment) => (fragment instanceof Pieces ? fragment.pieces : [fragment]))))
    return undefined
  }
}
