//! Scenarios of the lifecycle, one per behaviour a user would notice; each trace is a
//! snapshot (`snapshots/`), reviewed as what happened.

use crate::lifecycle::script::run;

macro_rules! scenario {
    ($name:ident, $script:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(run($script));
        }
    };
}

scenario!(
    dedup_folds_firings_into_the_open_alert,
    "
    0 fire disk msg=\"disk 91%\" value=91
    1s fire disk msg=\"disk 95%\" value=95
    2s fire disk msg=\"disk 95%\" sev=critical
    3s ack #1
    4s fire disk msg=\"disk 97%\"
    # another scope is another fingerprint
    5s fire disk scope=other
    "
);

scenario!(
    dedup_reopens_within_the_window_inclusive_and_opens_a_new_alert_after_it,
    "
    0 am alertname=Disk
    10s resolve #1
    # exactly the window (5m) after the resolution: reopens
    5m10s am alertname=Disk
    6m resolve #1
    # the window and one millisecond later: a new alert
    11m1ms am alertname=Disk
    12m resolve #2
    12m1s close #2
    # closed is final: new
    12m2s am alertname=Disk
    "
);

scenario!(
    quiet_firings_wait_in_ram_and_are_written_folded_within_a_second,
    "
    0 am alertname=Disk
    # the same severity, summary and annotations: quiet
    10s am alertname=Disk
    10s500ms am alertname=Disk
    10s900ms resend alertname=Disk
    10s999ms deadline
    # strictly past the flush deadline (10s + 1s): one occurrence with the latest time, not in
    # the occurrence log (its last row, the first firing, is less than a minute old)
    11s1ms tick
    # quiet again within the minute: written, not logged
    20s am alertname=Disk
    21s1ms tick
    # a minute after the last logged row: logged again
    71s am alertname=Disk
    72s1ms tick
    "
);

scenario!(
    a_changing_firing_is_written_at_once_and_supersedes_the_quiet_one,
    "
    0 am alertname=Disk
    1s am alertname=Disk
    # a new summary: written now, logged; the quiet one waiting is folded into it
    2s am alertname=Disk summary=\"disk 99%\"
    3s1ms tick
    # API alerts are never quiet: a person's resend answers with the count
    4s api alertname=Manual
    5s api alertname=Manual
    "
);

scenario!(
    occurrences_of_one_alert_within_a_batch_fold_into_the_latest,
    "
    0 fire disk msg=a
    1s fire disk msg=b
    & 1s fire disk msg=c
    & 1s fire disk msg=d
    # a transition between them ends the fold
    2s fire disk msg=e
    & 2s ack #1
    & 2s fire disk msg=f
    "
);

scenario!(
    resends_are_taken_when_quiet_and_the_rest_go_on_whole,
    "
    0 am alertname=A
    0 am alertname=B
    # B says something else: not taken, and B is not taken again in this request
    1s resend alertname=A alertname=B|changed alertname=B alertname=C
    # an ended resend is not taken (it resolves, as a whole alert)
    2s resend alertname=A ends=1s
    # API alerts are never taken
    3s api alertname=Hand
    4s resend alertname=Hand
    5s1ms tick
    "
);

scenario!(
    event_rule_alerts_auto_resolve_by_their_rule_or_the_server_setting,
    "
    config rule_auto=10m
    # the rule says 1m; the other rule says nothing: the server's 10m
    0 fire quick auto=1m
    0 fire slow
    30s fire quick
    # 30s + 1m has not passed yet at 90s
    90s tick
    90s1ms tick
    10m tick
    10m1ms tick
    "
);

scenario!(
    alertmanager_alerts_resolve_at_ends_at_or_after_the_resolve_timeout,
    "
    config timeout=5m
    0 am alertname=NoEnd
    0 am alertname=WithEnd ends=2m
    # a resend moves endsAt
    1m resend alertname=WithEnd ends=3m
    2m1ms tick
    3m1ms tick
    # resends move the timeout
    4m resend alertname=NoEnd
    # an endsAt in the past resolves at once (nothing open: nothing to resolve)
    4m am alertname=Past ends=1m
    4m1s am alertname=Past
    4m2s am alertname=Past ends=4m1s
    9m tick
    9m1ms tick
    "
);

scenario!(
    resolved_alerts_close_after_the_close_time,
    "
    config close=1h
    0 am alertname=A
    1m resolve #1
    1h1m tick
    1h1m1ms tick
    1h2m deadline
    "
);

scenario!(
    suppressing_by_hand_is_a_silence_that_lets_go_when_it_runs_out,
    "
    config timeout=1d
    0 am alertname=Disk,host=a
    1s ack #1
    2s suppress #1 30m reason=\"swapping disks\"
    30m2s tick
    30m2s1ms tick
    # unsuppress by hand expires the silence
    31m suppress #1 1h
    32m unsuppress #1
    40m explain #1
    "
);

scenario!(
    silences_mute_what_they_match_until_they_expire,
    "
    config timeout=1d
    0 am alertname=Disk,host=web-1
    0 am alertname=Disk,host=db-1
    1m silence host=~web-.* to=1h comment=\"swapping disks\"
    # a new alert that a silence matches is suppressed as it opens
    2m am alertname=Disk,host=web-2
    # a pending alert stays pending, and is suppressed the moment it fires
    3m th pending host=web-3
    4m th firing host=web-3
    5m explain #1
    10m expire $1
    "
);

scenario!(
    a_silence_that_starts_later_and_one_that_ends_later_take_over,
    "
    config timeout=1d
    0 am alertname=Disk
    0 silence alertname=Disk from=10m to=20m
    10m tick
    # a second silence that ends later holds it: the record follows
    11m silence alertname=Disk to=40m comment=longer
    20m tick
    40m tick
    "
);

scenario!(
    expiring_a_silence_that_has_not_started_mutes_nothing,
    "
    config timeout=1d
    0 am alertname=Disk
    1m silence alertname=Disk from=10m to=1h
    # written as ended now: the alert is never suppressed, not even for a millisecond
    2m expire $1
    2m1ms tick
    10m tick
    "
);

scenario!(
    silences_are_changed_in_place_or_replaced_as_alertmanager_does,
    "
    0 am alertname=Disk
    1m silence alertname=Disk to=1h
    # same matchers, still running: changed in place, keeps its start
    2m silence alertname=Disk to=2h id=$1 comment=extended
    # other matchers: the old one expires, a new one takes over
    3m silence alertname=Disk,host=~.* to=2h id=$1
    # an invalid change is refused and changes nothing
    4m silence alertname=Disk to=1m id=$2
    5m silence alertname=~.* to=1h
    6m expire $9999
    "
);

scenario!(
    maintenance_windows_mute_while_open,
    "
    window db-upgrade 10m 20m match=service=db
    window named 30m 40m
    config timeout=1d
    0 am alertname=Disk,service=db
    0 am alertname=Cpu,service=web
    # the first advance arms the window's edges
    1s tick
    10m tick
    # a window cannot be lifted by hand
    15m unsuppress #1
    20m tick
    # a threshold rule that names a window is muted by it, whatever its labels
    25m th firing host=a windows=named
    30m tick
    35m explain #3
    40m tick
    "
);

scenario!(
    inhibition_mutes_targets_while_the_source_fires,
    "
    inhibit node-down source=alertname=NodeDown target=severity=~warning|info equal=host
    0 am alertname=Disk,host=a,severity=warning
    0 am alertname=Disk,host=b,severity=warning
    0 am alertname=Cpu,host=a,severity=critical
    # the source fires: only the warning of the same host is inhibited (a Muted change)
    1m am alertname=NodeDown,host=a
    # a target that opens while the source fires is muted as it opens
    2m am alertname=Mem,host=a,severity=info
    # still active in the API: inhibition changes no state
    3m explain #1
    # the source resolves: the targets are free again
    4m resolve #4
    "
);

scenario!(
    inhibition_scoped_to_a_route_is_told_per_route,
    "
    inhibit no-pages source=alertname=ClusterDown target=alertname=NodeDown route=pager
    0 am alertname=NodeDown,node=n1
    1m am alertname=ClusterDown
    2m explain #1
    3m ack #2
    4m resolve #2
    "
);

scenario!(
    flapping_starts_is_held_and_becomes_stable,
    "
    config flap=3/10m timeout=1d
    0 am alertname=Flappy
    1m resolve #1
    2m am alertname=Flappy
    3m resolve #1
    # the fourth change within 10m: flapping until the first leaves the window (11m)
    4m am alertname=Flappy
    5m explain #1
    # acknowledging changes nothing about flapping (no firing change)
    6m ack #1
    11m tick
    11m1ms tick
    12m1ms tick
    12m2ms explain #1
    "
);

scenario!(
    a_restart_rearms_timers_and_fires_what_passed_while_down,
    "
    config close=1h timeout=5m
    0 am alertname=Resolved
    0 am alertname=Timeout
    1m resolve #1
    2m am alertname=Silenced
    2m silence alertname=Silenced to=30m
    3m suppress #2 10m
    4m restart
    4m deadline
    # the first advance looks at every alert again; nothing passed yet
    4m1ms tick
    # down a long time: everything due fires at the first advance
    2h restart
    2h tick
    2h1ms tick
    "
);

scenario!(
    a_restart_keeps_deduplication_and_quiet_content,
    "
    0 am alertname=Disk
    0 fire disk
    1m resolve #2
    2m restart
    # the same content is still quiet, the resolved engine alert reopens
    3m resend alertname=Disk
    3m fire disk
    4m1ms tick
    "
);

scenario!(
    threshold_alerts_are_pending_then_fire_and_a_new_episode_is_a_new_alert,
    "
    0 th pending host=a
    10s th pending host=a
    # pending alerts are not quiet resends
    15s resend alertname=cpu,host=a|\"cpu above 90\"
    20s th firing host=a
    30s th resolved host=a
    # a new pending episode within the reopen window: a new alert, not a reopen
    40s th pending host=a
    50s th cancelled host=a
    # firing at once (for = 0) within the window of #2: reopens it
    1m th firing host=a
    "
);

scenario!(
    notes_and_assignments_on_held_closed_and_unknown_alerts,
    "
    0 am alertname=A
    1s note #1 looking into it
    2s assign #1 carol
    3s assign #1 -
    4s resolve #1
    5s close #1
    # closed: not held; the store knows its state
    6s note #1 post-mortem done
    7s ack #1
    8s note #42 nobody
    9s ack #0
    "
);

scenario!(
    a_silence_that_ends_soon_is_announced_once,
    "
    config notice=15m timeout=1d close=1d
    0 am alertname=Disk,host=a
    0 am alertname=Disk,host=b
    1m silence alertname=Disk to=1h comment=\"swapping disks\" by=ops
    44m tick
    45m1ms tick
    46m tick
    # extending it announces the new end in time
    50m silence alertname=Disk to=2h id=$1
    1h45m1ms tick
    "
);

scenario!(
    quiet_occurrences_are_written_at_once_at_shutdown,
    "
    0 am alertname=Disk
    1s am alertname=Disk
    1s500ms flush
    # nothing is left for the flush deadline
    2s1ms tick
    "
);

scenario!(
    a_closed_alert_is_published_without_what_muted_it,
    "
    config close=1h timeout=1d
    inhibit node-down source=alertname=NodeDown target=alertname=Disk equal=host
    0 am alertname=NodeDown,host=a
    0 am alertname=Disk,host=a
    # resolved, it is still inhibited while the source fires; closed, nothing mutes it
    1m resolve #2
    1h1m1ms tick
    "
);

scenario!(
    an_older_alert_that_closes_leaves_firings_to_the_newer_one,
    "
    config reopen=1m close=1h timeout=1d
    0 am alertname=A
    1m resolve #1
    # after the reopen window: a new alert of the same fingerprint
    3m am alertname=A
    1h1m1ms tick
    1h2m am alertname=A
    "
);

scenario!(
    a_target_that_closes_leaves_the_other_targets_to_inhibit,
    "
    config close=1h timeout=1d
    inhibit node-down source=alertname=NodeDown target=severity=warning equal=host
    0 am alertname=Disk,host=a,severity=warning
    0 am alertname=Mem,host=a,severity=warning
    1m resolve #1
    1h1m1ms tick
    # the source fires: the target still open is inhibited
    1h2m am alertname=NodeDown,host=a
    "
);

scenario!(
    once_a_changed_firing_is_written_the_same_content_again_is_quiet,
    "
    0 am alertname=Disk
    1s am alertname=Disk summary=\"disk 99%\"
    2s am alertname=Disk summary=\"disk 99%\"
    2s500ms resend \"alertname=Disk|disk 99%\"
    3s1ms tick
    "
);
