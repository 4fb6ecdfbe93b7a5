import type { EntityManager } from '@mikro-orm/postgresql';
import type { ProjectConfig } from '../config.js';

/** Projects and channel links from the YAML file are upserted at start; the API may add more. */
export async function syncProjects(em: EntityManager, projects: ProjectConfig[]): Promise<void> {
  const conn = em.getConnection();
  for (const p of projects) {
    await conn.execute(`insert into projects (key, repo) values (?, ?) on conflict (key) do update set repo = excluded.repo`, [
      p.key,
      p.repo ?? null,
    ]);
    for (const channel of p.channels) {
      await conn.execute(
        `insert into channel_links (project_key, channel, created_by) values (?, ?, 'config')
         on conflict (channel) do update set project_key = excluded.project_key`,
        [p.key, channel],
      );
    }
  }
}
