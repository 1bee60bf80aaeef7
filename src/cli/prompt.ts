/** Interactive confirmation, only ever called when stdin is a terminal. */
import { input } from '@inquirer/prompts';

/** Asks the user to type `word`; true only for an exact match. */
export async function askToType(word: string): Promise<boolean> {
  const answer = await input({ message: `Type '${word}' to confirm:` });
  return answer.trim() === word;
}
