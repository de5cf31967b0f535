//! Rotations.
