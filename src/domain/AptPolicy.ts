/** The candidate version in `apt-cache policy driveclient`. */
import * as Option from "effect/Option"

/** The `Candidate:` of `apt-cache policy`; none for `(none)` or a package apt does not know. */
export const parsePolicyCandidate = (stdout: string): Option.Option<string> => {
  const candidate = /^\s*Candidate:\s*(\S+)/m.exec(stdout)?.[1]
  return candidate === undefined || candidate === "(none)" ? Option.none() : Option.some(candidate)
}
