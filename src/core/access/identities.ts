import type { EntityManager } from '@mikro-orm/postgresql';
import { handlesOfPerson, linkHandles, userIdOf } from './store.js';

/**
 * A person may hold several platform identities (slack:U1, discord:42, …) linked to one user.
 * Policies compare people, not handles.
 */
export function identitiesOf(em: EntityManager, handle: string): Promise<string[]> {
  return handlesOfPerson(em, handle);
}

/** The key that identifies a person: their user when linked, else the handle itself. */
export async function personOf(em: EntityManager, handle: string): Promise<string> {
  const userId = await userIdOf(em, handle);
  return userId ? `user:${userId}` : handle;
}

/** Links handles to one user (creating it), e.g. `slack:U1` and `discord:42` of the same person. */
export function linkIdentities(em: EntityManager, handles: string[]): Promise<number> {
  return linkHandles(em, handles);
}
