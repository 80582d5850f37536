/** What one update pass did, as the daemon, `status` and the state file tell it. */
import * as Data from "effect/Data"

export type PassOutcome = Data.TaggedEnum<{
  UpToDate: { readonly installed: string; readonly published: string }
  Installed: { readonly version: string }
  Upgraded: { readonly from: string; readonly to: string; readonly agentWasRunning: boolean }
  NotOffered: { readonly installed: string; readonly published: string; readonly candidate: string | undefined }
  /** A check that does not upgrade found the agent older than the published version. */
  Behind: { readonly installed: string; readonly published: string }
  /** The agent is older, but the administrator or an earlier failure says to leave it. */
  Skipped: { readonly installed: string; readonly published: string; readonly reason: string }
}>
export const PassOutcome = Data.taggedEnum<PassOutcome>()

export const describeOutcome = PassOutcome.$match({
  UpToDate: ({ installed }) => `up to date (${installed})`,
  Installed: ({ version }) => `installed ${version}`,
  Upgraded: ({ from, to }) => `upgraded ${from} to ${to}`,
  NotOffered: ({ candidate, published }) => `${published} is published but the repository offers ${candidate ?? "no agent"}`,
  Behind: ({ installed, published }) => `${installed} is older than ${published}; upgrade planned`,
  Skipped: ({ reason }) => `left alone: ${reason}`
})
