/**
 * Why an agent older than the published version is left as it is: the one rule the
 * update pass follows and `status` explains.
 */
import { compareUpstream } from "./Version.js"

export interface LeaveAloneFacts {
  /** The version `version.txt` names. */
  readonly published: string
  /** The administrator holds the package (`apt-mark hold`, versionlock, `zypper addlock`). */
  readonly held: boolean
  /** The version whose upgrade failed and was rolled back, if one did. */
  readonly failedVersion: { readonly version: string; readonly reason: string } | undefined
  /** Unknown (not read, or unreadable): no reason rests on it. */
  readonly serviceEnabled?: boolean | undefined
  /** Unknown (not read, or unreadable): no reason rests on it. */
  readonly running?: boolean | undefined
}

export type LeaveAloneCode = "held" | "rolled-back" | "disabled-and-stopped"

export interface LeaveAloneReason {
  readonly code: LeaveAloneCode
  readonly text: string
}

/** Every reason that applies, in the order the pass names the first. */
export const reasonsToLeaveAlone = (facts: LeaveAloneFacts): ReadonlyArray<LeaveAloneReason> => {
  const reasons: Array<LeaveAloneReason> = []
  if (facts.held) reasons.push({ code: "held", text: "the driveclient package is held at its version by the administrator" })
  const failed = facts.failedVersion
  if (failed !== undefined && compareUpstream(facts.published, failed.version) <= 0) {
    reasons.push({
      code: "rolled-back",
      text: `${failed.version} failed and was rolled back (${failed.reason}); waiting for a newer version`
    })
  }
  if (facts.serviceEnabled === false && facts.running === false) {
    reasons.push({ code: "disabled-and-stopped", text: "the agent's service is disabled and the agent is stopped" })
  }
  return reasons
}
