//! Properties over random sequences of inputs.
