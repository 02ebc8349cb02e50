/**
 * The roles a raft node plays and the ways an election starts. They live apart from the state
 * machine (raft.ts) so that the files that handle membership changes and leader transfer for it
 * can name them without importing raft.ts's values (no import cycle).
 */

/** The role a node plays. */
export enum StateType {
  Follower = 0,
  Candidate = 1,
  Leader = 2,
  PreCandidate = 3,
}

/** How an election was started. */
export enum CampaignType {
  PreElection = 0,
  Election = 1,
  /** A leader transfer: skips PreVote and overrides leader stickiness. */
  Transfer = 2,
}
