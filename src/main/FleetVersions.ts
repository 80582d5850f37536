/** The fleet's agents before the publication, and the version published at hour 0 unless `--fail-version` names it. */
export const FLEET_INSTALLED = "1.1.0-1"
export const FLEET_PUBLISHED = "1.2.0"
