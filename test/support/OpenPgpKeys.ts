/** Public keys made with `gpg --quick-gen-key` in a throwaway home (test/fixtures/keys), and helpers to build damaged ones. */
import * as fs from "node:fs"
import * as path from "node:path"
import { crc24 } from "../../src/domain/OpenPgpKey.js"

export const fixtureKey = (name: string): string =>
  fs.readFileSync(path.resolve(__dirname, "../fixtures/keys", `${name}.asc`), "utf8")

/** Ed25519, no expiry: the repository's key. */
export const REPOSITORY_KEY = fixtureKey("ed25519")
export const REPOSITORY_KEY_FINGERPRINT = "B60FE3E7EC6B17FAC06906E29A1F1B7F5CFEB7D8"
/** RSA 3072, no expiry: the key the repository rotated to. */
export const ROTATED_KEY = fixtureKey("rsa3072")
export const ROTATED_KEY_FINGERPRINT = "811857E821AAD2EDE2E51AFC41A0282F167A9CAD"

/** `bytes` as an armoured public-key block, with the CRC-24 line unless told otherwise. */
export const armor = (bytes: Uint8Array, options: { readonly checksum?: boolean } = {}): string => {
  const base64 = Buffer.from(bytes).toString("base64")
  const lines = base64.match(/.{1,64}/g) ?? []
  const crc = Buffer.from([crc24(bytes) >> 16, (crc24(bytes) >> 8) & 0xff, crc24(bytes) & 0xff]).toString("base64")
  return [
    "-----BEGIN PGP PUBLIC KEY BLOCK-----",
    "",
    ...lines,
    ...(options.checksum === false ? [] : [`=${crc}`]),
    "-----END PGP PUBLIC KEY BLOCK-----",
    ""
  ].join("\n")
}

/** A packet with a new-format (RFC 4880 4.2.2) header. */
export const newFormatPacket = (tag: number, body: Uint8Array): Uint8Array => {
  const length = body.length < 192
    ? [body.length]
    : body.length < 8384
    ? [((body.length - 192) >> 8) + 192, (body.length - 192) & 0xff]
    : [255, body.length >>> 24, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff]
  return Uint8Array.from([0xc0 | tag, ...length, ...body])
}

export const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => Uint8Array.from(parts.flatMap((part) => [...part]))
