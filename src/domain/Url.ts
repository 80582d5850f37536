/** URL parsing without `URL.canParse`, which Node.js has only since 18.17: the floor is 18.0. */

/** `text` as a URL, or undefined when it is not one. */
export const parseUrl = (text: string): URL | undefined => {
  try {
    return new URL(text)
  } catch {
    return undefined
  }
}
