/** The error a promise was expected to reject with, when it is a `Kind`; anything else fails the test as it is. */
export async function rejectionOf<E extends Error>(
  p: Promise<unknown>,
  Kind: abstract new (...args: never[]) => E,
): Promise<E> {
  const outcome = await p.then(
    () => new Error('expected a failure, but it succeeded'),
    (e: unknown) => e,
  );
  if (!(outcome instanceof Kind)) throw outcome;
  return outcome;
}
