/**
 * The rollout curve a fleet should follow, computed exactly (not by sampling): the share of hosts
 * whose planned upgrade is due by a time after a version is published.
 *
 * A host's delay is the rollout draw of `RolloutDelay` — gamma with shape 3 and scale 2 units,
 * redrawn while ≥ 24, so the gamma truncated at 24 — counted from the host's first check after the
 * publication, which comes after a wait uniform over one interval (each daemon checks at its own
 * offset). The curve is that truncated gamma CDF averaged over the uniform wait:
 *
 *   E(t) = (1/I) ∫₀ᴵ F(t − u) du,   F(x) = G(x) / G(24) on [0, 24), 1 beyond,
 *   G(x) = 1 − e^{−x/2} (1 + x/2 + x²/8)   (the regularized lower incomplete gamma for shape 3).
 *
 * With G_j the Erlang(j, 2) CDF, ∫₀ˣ (1 − G₃) = 2 (G₁ + G₂ + G₃)(x), so ∫₀ˣ G₃ = x − 2 (G₁ + G₂ + G₃)(x)
 * and E has a closed form too.
 */

/** The draw's parameters, as `RolloutDelay` draws (its test checks the two agree). */
export const SHAPE = 3
export const SCALE = 2
export const LIMIT = 24

const erlangCdf1 = (x: number) => 1 - Math.exp(-x / SCALE)
const erlangCdf2 = (x: number) => 1 - Math.exp(-x / SCALE) * (1 + x / SCALE)

/** G: the gamma(3, 2) CDF, in units. */
export const gammaCdf = (x: number): number =>
  x <= 0 ? 0 : 1 - Math.exp(-x / SCALE) * (1 + x / SCALE + (x * x) / (2 * SCALE * SCALE))

/** F: the CDF of the delay as drawn (the gamma truncated at the limit), in units. */
export const delayCdf = (x: number): number => (x <= 0 ? 0 : x >= LIMIT ? 1 : gammaCdf(x) / gammaCdf(LIMIT))

/** ∫₀ˣ G. */
const gammaCdfIntegral = (x: number) =>
  x <= 0 ? 0 : x - SCALE * (erlangCdf1(x) + erlangCdf2(x) + gammaCdf(x))

/** ∫₀ˣ F. */
const delayCdfIntegral = (x: number): number =>
  x <= 0 ? 0 : x <= LIMIT ? gammaCdfIntegral(x) / gammaCdf(LIMIT) : delayCdfIntegral(LIMIT) + (x - LIMIT)

/**
 * E(t): the share of hosts whose upgrade is due by `t` units after the publication, when each
 * first checks after a wait uniform over `interval` units.
 */
export const expectedShare = (t: number, interval: number): number =>
  Math.min(1, Math.max(0, (delayCdfIntegral(t) - delayCdfIntegral(t - interval)) / interval))
