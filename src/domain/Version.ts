/**
 * Agent versions: the strict `version.txt` format (digits and dots) and the
 * comparison of an installed package's upstream version against it.
 */
import * as Either from "effect/Either"

const VERSION_TXT = /^\d{1,9}(\.\d{1,9}){0,5}$/
const MAX_VERSION_TXT_BYTES = 64

/** Parses the body of `version.txt`; the `Left` says, in a few words, why it is not a version. */
export const parseVersionTxt = (body: string): Either.Either<string, string> => {
  if (body.length > MAX_VERSION_TXT_BYTES) {
    return Either.left(`body is ${body.length} bytes, a version is at most ${MAX_VERSION_TXT_BYTES}`)
  }
  const text = body.replace(/\r?\n$/, "")
  if (text.length === 0) return Either.left("body is empty")
  if (/<[a-z!/]/i.test(text)) return Either.left("body is HTML, not a version")
  if (!VERSION_TXT.test(text)) return Either.left(`"${printable(text)}" is not a version (digits and dots)`)
  return Either.right(text)
}

const printable = (text: string): string => {
  const oneLine = text.replace(/[^\x20-\x7e]/g, "?")
  return oneLine.length > 40 ? `${oneLine.slice(0, 40)}…` : oneLine
}

/**
 * The upstream part of a package version: `2:1.1.0-1` (deb) or `1.1.0-1.el9` (rpm) → `1.1.0`.
 * A version without a revision is its own upstream part.
 */
export const upstreamOf = (packageVersion: string): string => {
  const withoutEpoch = packageVersion.replace(/^\d+:/, "")
  const dash = withoutEpoch.lastIndexOf("-")
  return dash > 0 ? withoutEpoch.slice(0, dash) : withoutEpoch
}

/**
 * Compares two upstream versions: numeric dot-separated parts first (missing parts are 0),
 * then a suffix: `~rc1` sorts before no suffix, any other suffix (`+b1`) after it.
 */
export const compareUpstream = (a: string, b: string): -1 | 0 | 1 => {
  const [aParts, aSuffix] = split(a)
  const [bParts, bSuffix] = split(b)
  for (let i = 0; i < Math.max(aParts.length, bParts.length); i++) {
    const diff = (aParts[i] ?? 0n) - (bParts[i] ?? 0n)
    if (diff !== 0n) return diff < 0n ? -1 : 1
  }
  const rank = (suffix: string) => (suffix === "" ? 1 : suffix.startsWith("~") ? 0 : 2)
  const diff = rank(aSuffix) - rank(bSuffix)
  if (diff !== 0) return diff < 0 ? -1 : 1
  return aSuffix === bSuffix ? 0 : aSuffix < bSuffix ? -1 : 1
}

const split = (version: string): [ReadonlyArray<bigint>, string] => {
  const match = /^(\d+(?:\.\d+)*)(.*)$/.exec(version)
  if (match === null) return [[], version]
  return [match[1]!.split(".").map(BigInt), match[2]!]
}

/** Whether the installed package version is at least the published `version.txt` version. */
export const isUpToDate = (installedPackageVersion: string, published: string): boolean =>
  compareUpstream(upstreamOf(installedPackageVersion), published) >= 0
