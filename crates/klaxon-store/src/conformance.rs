//! The conformance suite every [`Store`] backend must pass, one test per behaviour a user
//! would notice. Test code (hidden from docs, not API): it may panic, and it must not depend on
//! any one backend. Run it with [`store_conformance_tests!`](crate::store_conformance_tests).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;

use std::collections::BTreeMap;

use klaxon_engine::lifecycle::State;
use klaxon_engine::{fingerprint, Alert, Severity, Trigger};

use crate::{AlertChange, AlertQuery, NewAlert, Occurrence, Source, Store, StoredAlert};

mod alert;
mod baseline;
mod escalation;
mod history;
mod incident;
mod lifecycle;
mod outbox;
mod people;
mod policy;
mod report;
mod rule_set;
mod telemetry;
mod token;

pub use self::alert::*;
pub use self::baseline::*;
pub use self::escalation::*;
pub use self::history::*;
pub use self::incident::*;
pub use self::lifecycle::*;
pub use self::outbox::*;
pub use self::people::*;
pub use self::policy::*;
pub use self::report::*;
pub use self::rule_set::*;
pub use self::telemetry::*;
pub use self::token::*;

/// Expands to one `#[tokio::test]` per behaviour of the suite. `make` is an `async fn() -> S`
/// returning a fresh, empty store (`S: Store`); the optional `teardown` is an `async fn(S)` run
/// after each test that passed (to close the store and delete its files); the optional `skip`
/// is an `async fn() -> bool` asked first: true skips the test (a peer the backend needs is
/// absent; it prints why).
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:path) => {
        $crate::store_conformance_tests!($make, teardown = $crate::conformance::drop_store);
    };
    ($make:path, teardown = $teardown:path) => {
        $crate::store_conformance_tests!(
            $make,
            teardown = $teardown,
            skip = $crate::conformance::never_skip
        );
    };
    ($make:path, teardown = $teardown:path, skip = $skip:path) => {
        $crate::store_conformance_tests!(@each $make, $teardown, $skip;
            alert_round_trip_keeps_every_field,
            alert_ids_ascend_in_insert_order,
            missing_alert_is_not_found,
            list_alerts_pages_and_filters,
            list_alerts_caps_the_limit,
            every_alert_gets_a_created_event,
            telemetry_is_counted_per_table,
            retention_deletes_exactly_the_older_rows,
            rule_set_versions_increment_per_group_and_name,
            a_rule_set_is_stored_under_the_version_it_gives,
            activation_is_exclusive_per_group,
            missing_rule_set_version_is_not_found,
            threshold_rule_sets_are_versioned_and_activated_apart,
            silences_round_trip_and_update_in_place,
            baselines_upsert_and_load,
            tokens_are_unique_and_found_by_hash,
            users_round_trip_are_unique_and_keep_created_at,
            teams_keep_member_order_and_name_only_users,
            a_user_owning_a_token_in_force_is_not_deleted,
            declared_people_are_read_only_until_declared_again,
            schedules_name_only_users_and_their_overrides_never_overlap,
            policies_round_trip_are_unique_and_keep_what_they_name,
            declared_policies_are_read_only_until_declared_again,
            a_policy_change_commits_with_its_audit_row_or_not_at_all,
            audit_rows_commit_with_their_change_and_page_newest_first,
            revoking_ends_sessions_frees_the_name_and_keeps_an_admin,
            token_use_is_recorded_and_never_moves_back,
            sessions_are_capped_per_token_and_leave_other_tokens_alone,
            expired_sessions_are_swept,
            concurrent_inserts_all_succeed_with_distinct_ids,
            a_failing_write_fails_only_itself,
            insert_alerts_fills_the_lifecycle_columns,
            an_inserted_alert_reads_back_with_every_field,
            a_deduplicated_alert_lives_its_whole_life,
            suppression_sets_and_clears_its_end,
            notes_and_assignee_are_kept_with_their_events,
            a_change_on_a_missing_alert_rolls_back_the_whole_request,
            a_transition_from_another_state_conflicts,
            given_ids_are_kept_and_max_alert_id_follows_them,
            open_alerts_are_every_alert_but_closed_ones,
            history_filters_alone_and_combined,
            history_labels_match_any_name_exactly,
            history_text_is_a_case_insensitive_substring,
            history_pages_have_no_duplicates_or_gaps,
            summary_counts_every_state_and_open_severities,
            performance_means_over_first_seen_range,
            trends_count_per_bucket_severity_and_name,
            outbox_delivers_a_stream_in_order,
            outbox_retries_when_due_and_leases_expire,
            outbox_claims_are_released_and_limited,
            outbox_log_tells_the_latest_per_group_and_open_alert,
            outbox_rate_limit_holds_count_as_told_until_a_summary_folds_them,
            outbox_retention_keeps_unfinished_rows_and_open_alerts,
            incidents_keep_members_links_and_timelines,
            an_incident_is_written_with_its_alerts_or_not_at_all,
            incidents_list_by_filters_and_cursor,
            escalation_pages_and_breaches_are_written_once,
            an_escalation_is_written_with_its_alert_change_or_not_at_all,
            ping_succeeds,
        );
    };
    (@each $make:path, $teardown:path, $skip:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                if $skip().await {
                    return;
                }
                let store = ::std::sync::Arc::new($make().await);
                $crate::conformance::$name(&store).await;
                let store = ::std::sync::Arc::try_unwrap(store)
                    .ok()
                    .expect("every task of the test has ended");
                $teardown(store).await;
            }
        )*
    };
}

/// The default skip: never (the backend needs no peer).
pub async fn never_skip() -> bool {
    false
}

/// The default teardown: just drop the store.
pub async fn drop_store<S>(store: S) {
    drop(store);
}

/// An alert with every field derived from its arguments.
pub fn alert(rule_id: &str, process: &str, severity: Severity, n: i64) -> Alert {
    let (scope, action) = ("metro", "TRACK");
    let context = (n % 2 == 0).then(|| format!("S{n}"));
    Alert {
        group: "default".into(),
        rule_set: "rails".into(),
        rule_set_version: Some(serde_json::Number::from(n)),
        rule_id: rule_id.into(),
        trigger: Trigger::TraceStop,
        operator: "MAX_DURATION_MS".into(),
        severity,
        handler: "pager".into(),
        process: process.into(),
        process_name: "metro-line".into(),
        scope: scope.into(),
        action: action.into(),
        context: context.as_deref().map(Into::into),
        action_count: n.unsigned_abs(),
        value: Some(n as f64 * 1.5),
        limit: Some(100.0),
        signal_ts: 1_700_000_000_000 + n,
        engine_ts: 1_700_000_000_100 + n,
        message: format!("alert number {n}"),
        fingerprint: fingerprint("default", rule_id, scope, action, context.as_deref()),
        auto_resolve_ms: None,
    }
}

/// A labelled alert as an Alertmanager client sends it, `active`, first seen (and stored) at
/// `first_seen`: labels are `alertname` = `name` plus `labels`, the engine-rule columns are
/// empty.
pub fn labelled(
    id: i64,
    name: &str,
    severity: &str,
    first_seen: i64,
    labels: &[(&str, &str)],
) -> StoredAlert {
    let mut all: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    all.insert("alertname".to_owned(), name.to_owned());
    StoredAlert {
        id,
        fingerprint: format!("fp-{id}"),
        state: State::Active,
        source: Source::Alertmanager,
        name: name.to_owned(),
        labels: all,
        annotations: BTreeMap::from([("summary".to_owned(), format!("{name} fired"))]),
        first_seen,
        last_seen: first_seen,
        occurrences: 1,
        acknowledged_at: None,
        acknowledged_by: None,
        resolved_at: None,
        resolved_by: None,
        closed_at: None,
        suppressed_until: None,
        suppressed_by: None,
        assignee: None,
        ends_at: None,
        generator_url: None,
        updated_at: first_seen,
        group: String::new(),
        rule_set: String::new(),
        rule_set_version: None,
        rule_id: String::new(),
        trigger: String::new(),
        operator: String::new(),
        severity: severity.to_owned(),
        handler: String::new(),
        process: String::new(),
        process_name: String::new(),
        scope: String::new(),
        action: String::new(),
        context: None,
        action_count: 0,
        value: None,
        limit: None,
        signal_ts: 0,
        engine_ts: 0,
        message: format!("{name} fired"),
        created_at: first_seen,
    }
}

/// Inserts `a` (actor `api`, reason `created`) with its first occurrence at `first_seen`.
pub fn insert(a: StoredAlert) -> AlertChange {
    let occurrence = Occurrence {
        at: a.first_seen,
        value: a.value,
        message: a.message.clone(),
    };
    AlertChange::Insert {
        alert: Box::new(a),
        actor: "api".to_owned(),
        reason: "created".to_owned(),
        occurrence,
    }
}

/// A transition without a suppression end.
pub fn transition(
    id: i64,
    from: State,
    to: State,
    at: i64,
    actor: &str,
    reason: &str,
) -> AlertChange {
    AlertChange::Transition {
        id,
        from,
        to,
        at,
        actor: actor.to_owned(),
        reason: reason.to_owned(),
        until: None,
        by: None,
    }
}

fn new(a: Alert, created_at: i64) -> NewAlert {
    NewAlert {
        alert: a,
        created_at,
    }
}

fn query(limit: usize) -> AlertQuery {
    AlertQuery {
        limit,
        ..AlertQuery::default()
    }
}

fn ids(alerts: &[StoredAlert]) -> Vec<i64> {
    alerts.iter().map(|a| a.id).collect()
}

pub async fn ping_succeeds<S: Store>(store: &Arc<S>) {
    store.ping().await.unwrap();
    store.ping().await.unwrap();
}
