//! Correlator behaviour tests.
