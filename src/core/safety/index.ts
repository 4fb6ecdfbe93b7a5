/** Deploy safety (issue 27): one deploy at a time per environment, locks, freezes, branch rules, soak and wait timers. */
export { joinQueue, rollbackBusyText, type Place } from './queue.js';
export { requestRefusals, refusalText, beforeDeploy, approvalNotes, overrideHint, deadlineOf } from './rules.js';
export { formatTime, formatSpan, frozenAt, refAllowed, upcomingFreezes } from './windows.js';
export { busySlot } from './reads.js';
