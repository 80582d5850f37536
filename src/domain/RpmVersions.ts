/**
 * Full rpm versions (`1.2.0-1.el9`) as rpm, dnf and yum print them: found in
 * `rpm -q`, `dnf repoquery` and `yum list` output, and ordered.
 */
import * as Option from "effect/Option"
import { compareUpstream, upstreamOf } from "./Version.js"

/** A `version-release`, with an optional epoch, as rpm, dnf and yum print it. */
const RPM_VERSION = /^(?:\d+:)?(\d[\w.+~^]*-[\w.+~^]+)$/

/** Whether `version` is a `version-release` (and so no option or second argument in disguise). */
export const isRpmVersion = (version: string): boolean => RPM_VERSION.test(version)

/** Orders full rpm versions by their upstream part, then by release. */
export const compareRpmVersions = (a: string, b: string): number =>
  compareUpstream(upstreamOf(a), upstreamOf(b)) ||
  a.localeCompare(b, "en", { numeric: true })

export const newestRpmVersion = (versions: ReadonlyArray<string>): Option.Option<string> =>
  Option.fromNullable([...versions].sort(compareRpmVersions).at(-1))

/**
 * The versions among whitespace-separated words, without their epoch; the literal two
 * characters `\n` count as a separator too, since dnf versions differ in whether
 * `--queryformat` expands them.
 */
export const versionsIn = (output: string): ReadonlyArray<string> =>
  output.split(/\s+|\\n/).flatMap((word) => {
    const match = RPM_VERSION.exec(word)
    return match === null ? [] : [match[1]!]
  })

/** The newest version in `dnf repoquery`, `yum list` or `rpm -q` output. */
export const parseNewestVersion = (output: string): Option.Option<string> => newestRpmVersion(versionsIn(output))
