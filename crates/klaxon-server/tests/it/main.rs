//! klaxon-server's integration tests, one binary (each test binary links the whole server):
//! one module per area, the harness that starts a server in `harness`. Non-Rust peers the
//! tests run (the SMTP sink) live in `tests/peers/`.

mod harness;

mod alertmanager;
mod alertmanager_clients;
mod alertmanager_groups;
mod api;
mod browser;
mod dashboard;
mod disk_full;
mod edge;
mod escalation;
mod escalation_contacts;
mod escalation_regroup;
mod https;
mod incident_notify;
mod incidents;
mod lifecycle;
mod listener;
mod module_cycles;
mod mute;
mod noise;
mod notify;
mod notify_hardening;
mod oncall;
mod openapi;
mod otlp;
mod people;
mod pipeline;
mod postgres;
mod roles;
mod test_layout;
mod threshold;
mod tokens;
