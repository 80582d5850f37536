/** Debian package versions, as `apt-get install driveclient=<version>` takes them. */

/** Optional epoch, upstream part starting with a digit, optional revision. */
const DEB_VERSION = /^(?:\d+:)?\d[A-Za-z0-9.+~:-]*$/

/** Whether `version` is a Debian package version (and so no option or second argument in disguise). */
export const isDebVersion = (version: string): boolean => DEB_VERSION.test(version)
