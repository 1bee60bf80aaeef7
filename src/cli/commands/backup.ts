export async function backupCommand(): Promise<number> {
  throw new Error('not implemented yet');
}

export async function restoreCommand(): Promise<number> {
  throw new Error('not implemented yet');
}

