import { LeaseholdError } from '@leasehold/domain';
import type { EpochState, FenceInput, PromoteInput } from './fencing-epoch.js';

/**
 * The fencing rules both backends apply (docs/replication.md, "Promotion"), as pure functions of the
 * stored state: what a lease write must be refused with, and the state after a promotion or a fence.
 */

/** The refusal a lease write gets under `state` at `now`, or undefined. `grant`: a new seat (checkout). */
export function epochGuardError(state: EpochState, now: number, grant: boolean): LeaseholdError | undefined {
  if (state.fenced) {
    return new LeaseholdError(
      'PRIMARY_FENCED',
      `this primary was superseded by ${state.fenced.primary} at epoch ${state.fenced.epoch}; send writes there`,
      { primary: state.fenced.primary, epoch: state.fenced.epoch },
    );
  }
  const learning = state.promotion?.learningUntil;
  if (grant && learning !== undefined && now < learning) {
    const retryAfterSeconds = Math.max(1, Math.ceil((learning - now) / 1000));
    return new LeaseholdError(
      'PROMOTION_LEARNING',
      `this node was promoted at epoch ${state.epoch} and grants no new seat for ${retryAfterSeconds} s more (learning mode); renewals are served`,
      { epoch: state.epoch, learningUntil: learning, retryAfterSeconds },
    );
  }
  return undefined;
}

export function promotedEpoch(state: EpochState, input: PromoteInput): EpochState {
  if (state.fenced) {
    throw new LeaseholdError(
      'PRIMARY_FENCED',
      `this store was superseded by ${state.fenced.primary} at epoch ${state.fenced.epoch}; it cannot be promoted`,
      { primary: state.fenced.primary, epoch: state.fenced.epoch },
    );
  }
  return {
    epoch: state.epoch + 1,
    promotion: {
      at: input.now,
      learningUntil: input.now + Math.max(0, input.learningMs),
      ...(input.supersedes === undefined ? {} : { supersedes: input.supersedes }),
    },
  };
}

/** The state after a fence at `input.epoch`; `state` itself when it is fenced at that epoch or later. */
export function fencedEpoch(state: EpochState, input: FenceInput): EpochState {
  if (!Number.isSafeInteger(input.epoch) || input.epoch <= state.epoch) {
    throw new LeaseholdError(
      'EPOCH_STALE',
      `a fence at epoch ${input.epoch} is not above this store's epoch ${state.epoch}`,
      { epoch: state.epoch },
    );
  }
  if (state.fenced && state.fenced.epoch >= input.epoch) return state;
  return { ...state, fenced: { epoch: input.epoch, primary: input.primary, at: input.now } };
}
