export async function createUsersCommand(): Promise<number> {
  throw new Error('not implemented yet');
}

export async function checkUsersCommand(): Promise<number> {
  throw new Error('not implemented yet');
}

