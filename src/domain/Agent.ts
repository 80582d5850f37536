/** The backup agent the updater keeps installed and current. */

/** The agent's package name, the same in the deb and the rpm repository. */
export const AGENT_PACKAGE = "driveclient"
