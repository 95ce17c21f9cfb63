//! Planning walk.
