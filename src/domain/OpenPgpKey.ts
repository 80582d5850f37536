/**
 * An ASCII-armoured OpenPGP public key (RFC 4880, RFC 9580) as apt's `signed-by` keyring takes
 * it: the armour decoded and its checksum checked, the packets walked, the primary key read.
 * Signatures are not verified (apt's gpgv or sqv does that); the self-signatures are only read
 * for the key's expiry and revocation.
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"

export type KeyAlgorithm = "RSA" | "DSA" | "ECDSA" | "EdDSA" | "Ed25519" | "Ed448"

export interface PublicKeyInfo {
  /** Upper-case hex: 40 digits for a v4 key, 64 for v5 and v6. */
  readonly fingerprint: string
  readonly version: 4 | 5 | 6
  readonly algorithm: KeyAlgorithm
  readonly created: Date
  /** From the newest self-signature's key expiration time; none when the key does not expire. */
  readonly expires: Date | undefined
  readonly revoked: boolean
}

export interface Packet {
  readonly tag: number
  readonly body: Uint8Array
}

const SIGNING_ALGORITHMS: Readonly<Record<number, KeyAlgorithm>> = {
  1: "RSA",
  3: "RSA",
  17: "DSA",
  19: "ECDSA",
  22: "EdDSA",
  27: "Ed25519",
  28: "Ed448"
}

const TAG = { signature: 2, secretKey: 5, publicKey: 6, secretSubkey: 7, userId: 13 } as const

const BEGIN_PUBLIC = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
const END_PUBLIC = "-----END PGP PUBLIC KEY BLOCK-----"

/** The CRC-24 of RFC 4880 section 6.1, which the armour's `=XXXX` line carries. */
export const crc24 = (bytes: Uint8Array): number => {
  let crc = 0xb704ce
  for (const byte of bytes) {
    crc ^= byte << 16
    for (let i = 0; i < 8; i++) {
      crc <<= 1
      if (crc & 0x1000000) crc ^= 0x1864cfb
    }
  }
  return crc & 0xffffff
}

const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/

/** The bytes of the one public-key block `text` holds; only blank space may surround it. */
export const dearmor = (text: string): Either.Either<Uint8Array, string> => {
  const lines = text.split(/\r?\n/).map((line) => line.trimEnd())
  while (lines.length > 0 && lines[0] === "") lines.shift()
  while (lines.length > 0 && lines.at(-1) === "") lines.pop()
  const first = lines[0] ?? ""
  if (/^-----BEGIN PGP PRIVATE KEY BLOCK-----$/.test(first)) return Either.left("a private key block, not a public key")
  if (first !== BEGIN_PUBLIC || lines.at(-1) !== END_PUBLIC) return Either.left("not an ASCII-armoured OpenPGP public key")
  const inner = lines.slice(1, -1)
  // Armour headers (`Comment: ...`) end at the first blank line.
  const blank = inner.indexOf("")
  if (blank < 0 || inner.slice(0, blank).some((line) => !/^[A-Za-z-]+: /.test(line))) {
    return Either.left("the key's armour has no blank line after its headers")
  }
  const body = inner.slice(blank + 1)
  const checksumLine = body.at(-1)?.startsWith("=") ? body.pop() : undefined
  if (body.length === 0 || !body.every((line) => BASE64_LINE.test(line))) return Either.left("the key's armour is not base64")
  const joined = body.join("")
  if (joined.length % 4 !== 0 || /=[^=]/.test(joined)) return Either.left("the key's armour is not base64")
  const bytes = new Uint8Array(Buffer.from(joined, "base64"))
  // RFC 9580 makes the checksum optional; when it is there it must match.
  if (checksumLine !== undefined) {
    const expected = /^=([A-Za-z0-9+/]{4})$/.exec(checksumLine)
    if (expected === null) return Either.left("the key's armour checksum line is malformed")
    if (Buffer.from(expected[1]!, "base64").readUIntBE(0, 3) !== crc24(bytes)) {
      return Either.left("the key's armour checksum does not match (a damaged key)")
    }
  }
  return Either.right(bytes)
}

/** The packets of `bytes`, in old (RFC 4880 4.2.1) or new (4.2.2) format headers; no partial lengths (no key packet has them). */
export const readPackets = (bytes: Uint8Array): Either.Either<ReadonlyArray<Packet>, string> => {
  const packets: Array<Packet> = []
  let at = 0
  const need = (count: number) => at + count <= bytes.length
  while (at < bytes.length) {
    const ctb = bytes[at++]!
    if ((ctb & 0x80) === 0) return Either.left(`byte ${at - 1} is not an OpenPGP packet header`)
    let tag: number
    let length: number
    if (ctb & 0x40) {
      tag = ctb & 0x3f
      if (!need(1)) return Either.left("the key ends inside a packet header")
      const first = bytes[at++]!
      if (first < 192) length = first
      else if (first < 224) {
        if (!need(1)) return Either.left("the key ends inside a packet header")
        length = ((first - 192) << 8) + bytes[at++]! + 192
      } else if (first === 255) {
        if (!need(4)) return Either.left("the key ends inside a packet header")
        length = readUint32(bytes, at)
        at += 4
      } else return Either.left(`packet ${packets.length + 1} has a partial length, which no key packet may have`)
    } else {
      tag = (ctb >> 2) & 0x0f
      const lengthType = ctb & 0x03
      if (lengthType === 3) length = bytes.length - at
      else {
        const size = [1, 2, 4][lengthType]!
        if (!need(size)) return Either.left("the key ends inside a packet header")
        length = size === 4 ? readUint32(bytes, at) : size === 2 ? (bytes[at]! << 8) | bytes[at + 1]! : bytes[at]!
        at += size
      }
    }
    if (!need(length)) return Either.left(`packet ${packets.length + 1} is cut short`)
    packets.push({ tag, body: bytes.subarray(at, at + length) })
    at += length
  }
  return Either.right(packets)
}

const readUint32 = (bytes: Uint8Array, at: number): number =>
  ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex").toUpperCase()

/** v4: SHA-1 over 0x99, a 2-byte length and the body; v5 (0x9A) and v6 (0x9B): SHA-256 with a 4-byte length. */
const fingerprintOf = (version: 4 | 5 | 6, body: Uint8Array): string => {
  const header = version === 4
    ? [0x99, body.length >> 8, body.length & 0xff]
    : [version === 5 ? 0x9a : 0x9b, ...[24, 16, 8, 0].map((shift) => (body.length >>> shift) & 0xff)]
  return createHash(version === 4 ? "sha1" : "sha256").update(Uint8Array.from(header)).update(body).digest("hex").toUpperCase()
}

interface SelfSignature {
  readonly type: number
  readonly created: number
  readonly keyExpirySeconds: number | undefined
}

/** The signature's type and, from its hashed subpackets, its creation time and key expiration time; v4 and v6 only. */
const readSignature = (body: Uint8Array, fingerprint: string): SelfSignature | undefined => {
  const version = body[0]
  if (version !== 4 && version !== 6) return undefined
  const type = body[1]!
  const lengthSize = version === 4 ? 2 : 4
  const hashedLength = lengthSize === 2 ? (body[4]! << 8) | body[5]! : readUint32(body, 4)
  const hashedStart = 4 + lengthSize
  const hashed = body.subarray(hashedStart, hashedStart + hashedLength)
  const unhashedLengthAt = hashedStart + hashedLength
  const unhashedLength = lengthSize === 2
    ? (body[unhashedLengthAt]! << 8) | body[unhashedLengthAt + 1]!
    : readUint32(body, unhashedLengthAt)
  const unhashed = body.subarray(unhashedLengthAt + lengthSize, unhashedLengthAt + lengthSize + unhashedLength)
  let created = 0
  let keyExpirySeconds: number | undefined
  let issuer: string | undefined
  for (const { type: subtype, data } of subpackets(hashed)) {
    if (subtype === 2 && data.length === 4) created = readUint32(data, 0)
    if (subtype === 9 && data.length === 4) keyExpirySeconds = readUint32(data, 0)
    if (subtype === 16 && data.length === 8) issuer = hex(data)
    if (subtype === 33 && data.length > 1) issuer = hex(data.subarray(1))
  }
  // gpg puts the issuer key ID in the unhashed area.
  for (const { type: subtype, data } of subpackets(unhashed)) {
    if (subtype === 16 && data.length === 8) issuer ??= hex(data)
  }
  // A certification by another key says nothing about this key's expiry or revocation.
  if (issuer !== undefined && !fingerprint.endsWith(issuer)) return undefined
  return { type, created, keyExpirySeconds }
}

const subpackets = (area: Uint8Array): ReadonlyArray<{ readonly type: number; readonly data: Uint8Array }> => {
  const found: Array<{ type: number; data: Uint8Array }> = []
  let at = 0
  while (at < area.length) {
    const first = area[at]!
    let length: number
    if (first < 192) {
      length = first
      at += 1
    } else if (first < 255) {
      length = ((first - 192) << 8) + (area[at + 1] ?? 0) + 192
      at += 2
    } else {
      length = readUint32(area, at + 1)
      at += 5
    }
    if (length === 0 || at + length > area.length) break
    found.push({ type: area[at]! & 0x7f, data: area.subarray(at + 1, at + length) })
    at += length
  }
  return found
}

const CERTIFICATIONS = new Set([0x10, 0x11, 0x12, 0x13, 0x1f])
const KEY_REVOCATION = 0x20

const describeAlgorithm = (id: number): string =>
  ({ 2: "RSA encrypt-only", 16: "Elgamal", 18: "ECDH", 25: "X25519", 26: "X448" } as Record<number, string>)[id] ?? `number ${id}`

/** The primary key of an armoured transferable public key, or why the text is not a usable one. */
export const parseArmoredPublicKey = (text: string): Either.Either<PublicKeyInfo, string> =>
  Either.gen(function*() {
    const packets = yield* Either.flatMap(dearmor(text), readPackets)
    if (packets.some((packet) => packet.tag === TAG.secretKey || packet.tag === TAG.secretSubkey)) {
      return yield* Either.left("a private key, not a public key")
    }
    const primary = packets[0]
    if (primary?.tag !== TAG.publicKey) return yield* Either.left("the key does not start with a public-key packet")
    const body = primary.body
    const version = body[0]
    if (version !== 4 && version !== 5 && version !== 6) {
      return yield* Either.left(`version ${version ?? "?"} keys are not supported (only 4, 5 and 6)`)
    }
    if (body.length < 7 + (version === 4 ? 0 : 4)) return yield* Either.left("the public-key packet is cut short")
    const algorithm = SIGNING_ALGORITHMS[body[5]!]
    if (algorithm === undefined) {
      return yield* Either.left(`the primary key's algorithm (${describeAlgorithm(body[5]!)}) cannot sign`)
    }
    if (!packets.some((packet) => packet.tag === TAG.userId)) return yield* Either.left("the key has no user ID")
    const fingerprint = fingerprintOf(version, body)
    const createdSeconds = readUint32(body, 1)
    const selfSignatures = packets
      .filter((packet) => packet.tag === TAG.signature)
      .flatMap((packet) => readSignature(packet.body, fingerprint) ?? [])
    const newest = selfSignatures
      .filter((signature) => CERTIFICATIONS.has(signature.type))
      .reduce<SelfSignature | undefined>((best, signature) => best === undefined || signature.created >= best.created ? signature : best, undefined)
    const expirySeconds = newest?.keyExpirySeconds
    return {
      fingerprint,
      version,
      algorithm,
      created: new Date(createdSeconds * 1000),
      expires: expirySeconds === undefined || expirySeconds === 0 ? undefined : new Date((createdSeconds + expirySeconds) * 1000),
      revoked: selfSignatures.some((signature) => signature.type === KEY_REVOCATION)
    }
  })

/** `undefined` when `text` is a public key apt can verify the repository with at `now`, else why not, in one line. */
export const publicKeyProblem = (text: string, now: Date): string | undefined =>
  Either.match(parseArmoredPublicKey(text), {
    onLeft: (problem) => problem,
    onRight: (key) =>
      key.revoked
        ? `the key ${key.fingerprint} is revoked`
        : key.expires !== undefined && key.expires.getTime() <= now.getTime()
        ? `the key ${key.fingerprint} expired on ${key.expires.toISOString().slice(0, 10)}`
        : undefined
  })

/** A key's fingerprint as a log line names it: `none` when there is no key, `unreadable` when it is not one. */
export const fingerprintOrWhy = (key: Option.Option<string>): string =>
  Option.match(key, {
    onNone: () => "none",
    onSome: (text) => Either.match(parseArmoredPublicKey(text), { onLeft: () => "unreadable", onRight: (info) => info.fingerprint })
  })
