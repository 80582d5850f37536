import * as Either from "effect/Either"
import { describe, expect, it } from "vitest"
import { dearmor, parseArmoredPublicKey, publicKeyProblem, readPackets } from "../../src/domain/OpenPgpKey.js"
import {
  armor,
  concat,
  fixtureKey,
  newFormatPacket,
  REPOSITORY_KEY,
  REPOSITORY_KEY_FINGERPRINT,
  ROTATED_KEY,
  ROTATED_KEY_FINGERPRINT
} from "../support/OpenPgpKeys.js"

const NOW = new Date("2027-01-01T00:00:00Z")
const bytesOf = (text: string) => Either.getOrThrow(dearmor(text))
const packetsOf = (text: string) => Either.getOrThrow(readPackets(bytesOf(text)))
const userId = newFormatPacket(13, new TextEncoder().encode("Test <test@example.test>"))
/** The packets again, each with a new-format header. */
const reencoded = (text: string) => concat(...packetsOf(text).map((packet) => newFormatPacket(packet.tag, packet.body)))
const withKeyByte = (text: string, offset: number, value: number) => {
  const [primary, ...rest] = packetsOf(text)
  const body = Uint8Array.from(primary!.body)
  body[offset] = value
  return armor(concat(newFormatPacket(6, body), ...rest.map((packet) => newFormatPacket(packet.tag, packet.body))))
}

// RFC 9580 appendix A.3 (a v6 Ed25519 certificate, no user ID, no armour checksum) and A.2's v4 Ed25519 legacy key.
const RFC9580_V6_CERTIFICATE = [
  "-----BEGIN PGP PUBLIC KEY BLOCK-----",
  "",
  "xioGY4d/4xsAAAAg+U2nu0jWCmHlZ3BqZYfQMxmZu52JGggkLq2EVD34laPCsQYf",
  "GwoAAABCBYJjh3/jAwsJBwUVCg4IDAIWAAKbAwIeCSIhBssYbE8GCaaX5NUt+mxy",
  "KwwfHifBilZwj2Ul7Ce62azJBScJAgcCAAAAAK0oIBA+LX0ifsDm185Ecds2v8lw",
  "gyU2kCcUmKfvBXbAf6rhRYWzuQOwEn7E/aLwIwRaLsdry0+VcallHhSu4RN6HWaE",
  "QsiPlR4zxP/TP7mhfVEe7XWPxtnMUMtf15OyA51YBM4qBmOHf+MZAAAAIIaTJINn",
  "+eUBXbki+PSAld2nhJh/LVmFsS+60WyvXkQ1wpsGGBsKAAAALAWCY4d/4wKbDCIh",
  "BssYbE8GCaaX5NUt+mxyKwwfHifBilZwj2Ul7Ce62azJAAAAAAQBIKbpGG2dWTX8",
  "j+VjFM21J0hqWlEg+bdiojWnKfA5AQpWUWtnNwDEM0g12vYxoWM8Y81W+bHBw805",
  "I8kWVkXU6vFOi+HWvv/ira7ofJu16NnoUkhclkUrk0mXubZvyl4GBg==",
  "-----END PGP PUBLIC KEY BLOCK-----"
].join("\n")
const RFC9580_V4_ED25519_LEGACY = Buffer.from("xjMEU/NfCxYJKwYBBAHaRw8BAQdAPwmJlL3ZFu1AUxl5NOSofIBzOhKA1i+AEJkuQ+47JAY=", "base64")

describe("parseArmoredPublicKey: real keys", () => {
  it.each([
    ["ed25519", "EdDSA", REPOSITORY_KEY_FINGERPRINT],
    ["rsa3072", "RSA", ROTATED_KEY_FINGERPRINT],
    ["dsa2048", "DSA", "11C7E087E30320A0DEF1FF1407962EB460C2B998"],
    ["nistp256", "ECDSA", "CAE2C21105574B06694116BAE266903ADB696776"]
  ])("gpg's %s key: its algorithm and v4 fingerprint (gpg's own), created, no expiry", (name, algorithm, fingerprint) => {
    const key = Either.getOrThrow(parseArmoredPublicKey(fixtureKey(name)))
    expect(key).toMatchObject({ version: 4, algorithm, fingerprint, expires: undefined, revoked: false })
    expect(key.created.getUTCFullYear()).toBeGreaterThanOrEqual(2026)
    expect(publicKeyProblem(fixtureKey(name), NOW)).toBeUndefined()
  })

  it("CRLF line ends and armour headers are read", () => {
    const withHeaders = REPOSITORY_KEY.replace("BLOCK-----\n\n", "BLOCK-----\nComment: agent repository\n\n").replace(/\n/g, "\r\n")
    expect(Either.map(parseArmoredPublicKey(withHeaders), (key) => key.fingerprint)).toEqual(Either.right(REPOSITORY_KEY_FINGERPRINT))
  })

  it("new-format packet headers (RFC 4880 4.2.2), as gpg writes the same key's old ones", () => {
    expect(Either.map(parseArmoredPublicKey(armor(reencoded(ROTATED_KEY))), (key) => key.fingerprint)).toEqual(
      Either.right(ROTATED_KEY_FINGERPRINT)
    )
  })

  it("RFC 9580's sample keys: v4 Ed25519 legacy and v6 Ed25519 fingerprints; no checksum line is fine", () => {
    const v4 = parseArmoredPublicKey(armor(concat(RFC9580_V4_ED25519_LEGACY, userId), { checksum: false }))
    expect(Either.map(v4, (key) => [key.version, key.algorithm, key.fingerprint])).toEqual(
      Either.right([4, "EdDSA", "C959BDBAFA32A2F89A153B678CFDE12197965A9A"])
    )
    const v6 = parseArmoredPublicKey(armor(concat(bytesOf(RFC9580_V6_CERTIFICATE), userId)))
    expect(Either.map(v6, (key) => [key.version, key.algorithm, key.fingerprint])).toEqual(
      Either.right([6, "Ed25519", "CB186C4F0609A697E4D52DFA6C722B0C1F1E27C18A56708F6525EC27BAD9ACC9"])
    )
  })

  it("an expired key: its expiry from the self-signature, refused after it", () => {
    const key = Either.getOrThrow(parseArmoredPublicKey(fixtureKey("expired")))
    expect(key.expires?.toISOString()).toBe("2020-06-01T12:00:00.000Z")
    expect(publicKeyProblem(fixtureKey("expired"), new Date("2020-05-01T00:00:00Z"))).toBeUndefined()
    expect(publicKeyProblem(fixtureKey("expired"), NOW)).toBe("the key 7DDBAC7942A7FC6BE27A78F8A4B933780ADACB2F expired on 2020-06-01")
  })

  it("a revoked key (its revocation certificate imported) is refused", () => {
    expect(publicKeyProblem(fixtureKey("revoked"), NOW)).toBe("the key D53779111DC71D4705C919937B3533535F0B1471 is revoked")
  })
})

describe("publicKeyProblem: hostile or broken input, one line each", () => {
  const corruptedCrc = REPOSITORY_KEY.replace(/\n=(.)/, (_, first: string) => `\n=${first === "A" ? "B" : "A"}`)
  const corruptedBody = REPOSITORY_KEY.replace(/\n(m)/, "\nn")
  it.each([
    ["a corrupted checksum", corruptedCrc, "the key's armour checksum does not match (a damaged key)"],
    ["a changed byte under a good-looking checksum", corruptedBody, "the key's armour checksum does not match (a damaged key)"],
    ["a private key block", fixtureKey("private"), "a private key block, not a public key"],
    ["garbage", "garbage\n", "not an ASCII-armoured OpenPGP public key"],
    ["an HTML page", "<!DOCTYPE html><html><body>Not Found</body></html>", "not an ASCII-armoured OpenPGP public key"],
    ["empty", "", "not an ASCII-armoured OpenPGP public key"],
    ["two blocks", `${REPOSITORY_KEY}${ROTATED_KEY}`, "the key's armour is not base64"],
    ["text after the block", `${REPOSITORY_KEY}deb [trusted=yes] http://evil/ x main\n`, "not an ASCII-armoured OpenPGP public key"],
    ["no blank line after the headers", REPOSITORY_KEY.replace("BLOCK-----\n\n", "BLOCK-----\n"), "the key's armour has no blank line after its headers"],
    ["base64 with a stray character", REPOSITORY_KEY.replace("BLOCK-----\n\n", "BLOCK-----\n\n*"), "the key's armour is not base64"],
    ["armour around no OpenPGP packets", armor(new TextEncoder().encode("hello world")), "byte 0 is not an OpenPGP packet header"],
    ["a cut-off packet", armor(bytesOf(REPOSITORY_KEY).subarray(0, 40)), "packet 1 is cut short"],
    ["a user ID only", armor(userId), "the key does not start with a public-key packet"],
    ["a v3 key", withKeyByte(REPOSITORY_KEY, 0, 3), "version 3 keys are not supported (only 4, 5 and 6)"],
    ["an encryption-only primary key (ECDH)", withKeyByte(REPOSITORY_KEY, 5, 18), "the primary key's algorithm (ECDH) cannot sign"],
    ["an Elgamal primary key", withKeyByte(REPOSITORY_KEY, 5, 16), "the primary key's algorithm (Elgamal) cannot sign"],
    ["no user ID (RFC 9580's v6 sample)", RFC9580_V6_CERTIFICATE, "the key has no user ID"],
    ["a partial body length", armor(Uint8Array.from([0xc6, 0xe1, 0x04])), "packet 1 has a partial length, which no key packet may have"]
  ])("%s", (_, text, problem) => {
    expect(publicKeyProblem(text, NOW)).toBe(problem)
    expect(problem).not.toContain("\n")
  })
})
