/** The agent's hold as `apt-mark showhold` lists it. */
import { AGENT_PACKAGE } from "./Agent.js"

/** Whether `apt-mark showhold` lists the agent (`driveclient`, or `driveclient:amd64` on multiarch hosts). */
export const showholdListsAgent = (stdout: string): boolean =>
  stdout.split("\n").some((line) => line.trim() === AGENT_PACKAGE || line.trim().startsWith(`${AGENT_PACKAGE}:`))
