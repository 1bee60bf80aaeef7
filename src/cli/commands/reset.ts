export async function resetCommand(): Promise<number> {
  throw new Error('not implemented yet');
}

