import type { EnvironmentState } from '../../../core/safety/verbs.js';
import { When } from './layout.js';

/** The dashboard's "what is live where", deploy-safety column: lock, freeze, the deploy under way and the one waiting (issue 27). */
export function SafetyCell({ state }: { state: EnvironmentState | undefined }) {
  if (!state) return <td>—</td>;
  const parts = [
    state.lock ? (
      <span>
        Locked by {state.lock.holder}
        {state.lock.reason ? ` (${state.lock.reason})` : ''}
        {state.lock.expiresAt ? <> until <When at={state.lock.expiresAt} /></> : ' until unlocked'}
      </span>
    ) : null,
    state.frozen ? (
      <span>
        Frozen{state.frozen.until ? <> until <When at={state.frozen.until} /></> : ''} ({state.frozen.reasons.join(', ')})
      </span>
    ) : null,
    state.active ? <span>Deploying: <a href={`/runs/${state.active.ref}`}>{state.active.ref}</a> ({state.active.status.replace('_', ' ')}) by {state.active.requestedBy}</span> : null,
    state.waiting ? <span>Next: <a href={`/runs/${state.waiting.ref}`}>{state.waiting.ref}</a> by {state.waiting.requestedBy}</span> : null,
    !state.frozen && state.upcomingFreezes[0] ? <span>Next freeze: {state.upcomingFreezes[0].name} from <When at={state.upcomingFreezes[0].start} /></span> : null,
  ].filter(Boolean);
  return <td>{parts.length ? parts.map((p) => <div>{p}</div>) : 'Open'}</td>;
}
