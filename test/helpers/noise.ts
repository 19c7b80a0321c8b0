/** A deterministic pseudo-random sequence in [-0.5, 0.5) (Park–Miller), for test series with noise. */
export function noise(seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 16807) % 2147483647
    return state / 2147483647 - 0.5
  }
}
