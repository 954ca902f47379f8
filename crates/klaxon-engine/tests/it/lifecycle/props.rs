//! Properties over random scripts: whatever the inputs, every transition written is one the
//! table allows from the state the store holds, RAM and the store agree after every batch
//! (restarts included), and the same inputs give the same trace.

use proptest::prelude::*;

use crate::lifecycle::script::run;

/// The noise controls every random script runs with.
const CONFIG: &str = "
config flap=2/10m reopen=5m close=1h timeout=5m rule_auto=10m notice=5m
window w 10m 30m match=host=h0
inhibit down source=alertname=A0 target=alertname=A1 equal=host
inhibit paging source=alertname=A2 target=alertname=A1 route=pager
";

fn step() -> impl Strategy<Value = String> {
    let id = || (1..9u8).prop_map(|i| format!("#{i}"));
    let labels = || (0..3u8, 0..2u8).prop_map(|(a, h)| format!("alertname=A{a},host=h{h}"));
    prop_oneof![
        3 => (0..3u8, 0..2u8).prop_map(|(r, m)| format!("fire r{r} msg=m{m}")),
        4 => (labels(), 0..2u8, 0..4u8).prop_map(|(l, s, e)| {
            let ends = match e {
                0 => " ends=-1s",
                1 => " ends=+2m",
                _ => "",
            };
            format!("am {l} summary=s{s}{ends}")
        }),
        2 => (0..4u8, 0..2u8).prop_map(|(k, h)| {
            let kind = ["pending", "firing", "resolved", "cancelled"][usize::from(k)];
            format!("th {kind} host=h{h}")
        }),
        2 => prop::collection::vec((labels(), 0..2u8), 1..4).prop_map(|v| {
            let specs: Vec<String> = v.into_iter().map(|(l, s)| format!("{l}|s{s}")).collect();
            format!("resend {}", specs.join(" "))
        }),
        4 => (0..6u8, id()).prop_map(|(a, id)| match a {
            0 => format!("ack {id}"),
            1 => format!("resolve {id}"),
            2 => format!("close {id}"),
            3 => format!("unsuppress {id}"),
            4 => format!("suppress {id} 10m"),
            _ => format!("note {id} x"),
        }),
        1 => id().prop_map(|id| format!("assign {id} carol")),
        1 => (0..3u8, 1..4u8).prop_map(|(a, d)| format!("silence alertname=A{a} to=+{}m", d * 7)),
        1 => (1..4u8).prop_map(|n| format!("expire ${n}")),
        4 => Just("tick".to_owned()),
        1 => Just("restart".to_owned()),
    ]
}

/// Steps at increasing times; relative `ends=`/`to=` offsets become absolute.
fn script() -> impl Strategy<Value = String> {
    let gap = prop_oneof![
        Just(0i64),
        Just(1),
        Just(500),
        Just(1_000),
        Just(30_000),
        Just(60_000),
        Just(300_000),
        Just(600_000),
        Just(3_600_000),
    ];
    prop::collection::vec((gap, step()), 1..60).prop_map(|steps| {
        let mut out = CONFIG.to_owned();
        let mut now = 0i64;
        for (gap, s) in steps {
            now += gap;
            let s = s
                .replace("=+", &format!("={now}ms+"))
                .replace("=-1s", &format!("={}ms", now - 1000));
            out.push_str(&format!("{now}ms {}\n", absolute(&s)));
        }
        out
    })
}

/// `to=1000ms+14m` → `to=841000ms`.
fn absolute(s: &str) -> String {
    s.split(' ')
        .map(|w| match w.split_once("ms+") {
            Some((head, rel)) => {
                let (key, base) = head.split_once('=').expect("key=base");
                format!(
                    "{key}={}ms",
                    base.parse::<i64>().expect("ms") + crate::lifecycle::script::dur(rel)
                )
            }
            None => w.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `run` panics on a transition the store would refuse or the table forbids, and on RAM
    /// that disagrees with the store.
    #[test]
    fn random_inputs_never_write_an_illegal_transition(s in script()) {
        let _ = run(&s);
    }

    #[test]
    fn replaying_the_same_inputs_gives_the_same_effects(s in script()) {
        prop_assert_eq!(run(&s), run(&s));
    }
}
