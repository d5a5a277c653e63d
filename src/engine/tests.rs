//! Engine scenarios: several engines wired together in memory.
