//! Alertmanager label matchers, as the engine defines them (`klaxon_engine::matcher`): the
//! API's filters, silences and inhibition rules all match with the same code.

pub use klaxon_engine::matcher::*;
