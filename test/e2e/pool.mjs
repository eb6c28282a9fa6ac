/** Runs `jobs` (functions returning promises) `width` at a time, in the array's order; the results in that order. */
export async function pool(jobs, width = 2) {
  const results = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]();
      }
    }),
  );
  return results;
}
