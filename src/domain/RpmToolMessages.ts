/**
 * The messages with which rpm and yum end a run with a non-zero exit status that
 * is not a failure. They are read from the output of a run with `LC_ALL=C`.
 */

/** `rpm -q`: `package driveclient is not installed`. */
export const rpmSaysNotInstalled = (output: string): boolean => /is not installed/.test(output)

/** `yum list available`: `Error: No matching Packages to list`. */
export const yumListFoundNothing = (output: string): boolean => /No matching Packages/i.test(output)

/** yum 3's `--downloadonly` ends with exit status 1 and this message, having downloaded. */
export const yumDownloadedOnly = (output: string): boolean => /exiting because "?download ?only"? specified/i.test(output)
