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
 * Compares two upstream versions as dpkg does (`verrevcmp`): runs of non-digits compare character
 * by character, `~` before the end before letters before anything else; runs of digits compare as
 * numbers. So `1.2 < 1.2.0`, `1.2.0~rc1 < 1.2.0 < 1.2.0+b1`, `1.9 < 1.10`. rpm's `rpmvercmp` orders
 * the versions the vendor publishes (digits, dots, `~`, a letter suffix) the same way; it differs
 * only on separators (rpm ignores which one: `1.0_1` = `1.0.1`) and on `^`, which neither tool's
 * agent versions use. `semver` fits none of this: `1.2` is not a semver version, and semver's
 * `-rc1`/`+b1` mean what `~rc1` does not and nothing at all. It fits only the updater's own
 * npm version, which nothing here compares.
 */
export const compareUpstream = (a: string, b: string): -1 | 0 | 1 => {
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i]!)) || (j < b.length && !isDigit(b[j]!))) {
      const diff = order(a[i]) - order(b[j])
      if (diff !== 0) return diff < 0 ? -1 : 1
      i++
      j++
    }
    const [aDigits, bDigits] = [digitsAt(a, i), digitsAt(b, j)]
    i += aDigits.length
    j += bDigits.length
    const diff = compareNumbers(aDigits, bDigits)
    if (diff !== 0) return diff
  }
  return 0
}

const isDigit = (char: string): boolean => char >= "0" && char <= "9"

/** dpkg's weight of one character of a non-digit run; `undefined` is the run's (or the version's) end. */
const order = (char: string | undefined): number => {
  if (char === undefined || isDigit(char)) return 0
  if (char === "~") return -1
  if (/[A-Za-z]/.test(char)) return char.charCodeAt(0)
  return char.charCodeAt(0) + 256
}

const digitsAt = (version: string, at: number): string => /^\d*/.exec(version.slice(at))![0]

/** Decimal numbers of any length: no leading zeros, then the longer is larger, then as text. */
const compareNumbers = (a: string, b: string): -1 | 0 | 1 => {
  const [x, y] = [a.replace(/^0+/, ""), b.replace(/^0+/, "")]
  if (x.length !== y.length) return x.length < y.length ? -1 : 1
  return x === y ? 0 : x < y ? -1 : 1
}

/** Whether the installed package version is at least the published `version.txt` version. */
export const isUpToDate = (installedPackageVersion: string, published: string): boolean =>
  compareUpstream(upstreamOf(installedPackageVersion), published) >= 0
