export async function syncPushCommand(): Promise<number> {
  throw new Error('not implemented yet');
}

export async function verifyCommand(): Promise<number> {
  throw new Error('not implemented yet');
}

