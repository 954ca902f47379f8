//! The edges of the lifecycle's timers, one millisecond either side, and the stale entries of
//! the deadline set (an alert that moved on since its timer was armed): each trace is a
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
    an_alert_resolved_again_closes_the_close_time_after_its_last_resolution,
    "
    config close=1h
    0 am alertname=A
    1m resolve #1
    2m am alertname=A
    2m1s1ms tick
    3m resolve #1
    # the first resolution's close time has passed, but the alert resolved again since; and
    # this is exactly the close time after the last resolution: not yet
    1h3m tick
    1h3m1ms tick
    "
);

scenario!(
    an_end_moved_earlier_resolves_at_the_earlier_end,
    "
    0 am alertname=A ends=10m
    1m am alertname=A ends=2m
    2m tick
    2m1ms tick
    "
);

scenario!(
    a_silence_is_announced_from_the_notice_time_on_and_only_once_it_holds_alerts,
    "
    config notice=15m timeout=1d close=1d
    0 am alertname=Disk
    0 am alertname=Cpu
    1m silence alertname=Disk to=1h
    # the notice time of $1 is 45m: a look at 45m announces it, not one before
    44m59s999ms tick
    45m tick
    45m silence alertname=Other to=3h
    1h1ms tick
    # $3 is within its notice time while it waits to start, holding nothing: not announced
    # until it starts and holds the alert
    1h40m silence alertname=Cpu from=1h50m to=2h
    1h46m tick
    1h50m tick
    # announced once: another look at every alert says nothing more
    1h51m silence alertname=Other to=3h
    "
);
