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
