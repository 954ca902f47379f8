//! Correlator behaviour: alert streams in, incidents and recurring groups out, checked as a
//! person reading the result would (which alerts ended up together, and why).

use std::collections::BTreeMap;

use super::*;

const T0: i64 = 1_800_000_000_000;
const MIN: i64 = 60_000;

const TOPOLOGY: &str = r#"{
  "clusters": [{"name": "euw1", "nodes": ["node-a"]}, {"name": "use1", "nodes": ["node-b"]}],
  "services": [
    {"name": "frontend", "depends_on": ["orders-api", "cart-api"],
     "deployments": [{"cluster": "euw1"}, {"cluster": "use1"}]},
    {"name": "orders-api", "namespace": "orders", "depends_on": ["pg-orders"],
     "deployments": [{"cluster": "euw1", "hosts": ["node-a"]}, {"cluster": "use1", "hosts": ["node-b"]}]},
    {"name": "cart-api", "namespace": "cart", "depends_on": ["redis-cart"],
     "deployments": [{"cluster": "euw1"}, {"cluster": "use1"}]},
    {"name": "pg-orders", "deployments": [{"cluster": "euw1", "hosts": ["pg-orders-01"]}, {"cluster": "use1"}]},
    {"name": "redis-cart", "deployments": [{"cluster": "euw1"}, {"cluster": "use1"}]}
  ]
}"#;

/// One alert of a test stream: id, start (minutes after T0), labels, summary.
struct A {
    id: AlertId,
    at_min: f64,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    ends_min: Option<f64>,
}

fn a(id: AlertId, at_min: f64, labels: &[(&str, &str)], summary: &str) -> A {
    A {
        id,
        at_min,
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        annotations: [("summary".to_owned(), summary.to_owned())].into(),
        ends_min: None,
    }
}

fn ms(min: f64) -> i64 {
    T0 + (min * MIN as f64) as i64
}

enum Step {
    Fire(A),
    Resolve(AlertId, f64),
}

fn correlator(topology: bool) -> Correlator {
    let t = topology.then(|| parse_topology(TOPOLOGY).expect("valid topology"));
    Correlator::new(CorrelationConfig::default(), t).expect("valid config")
}

fn run(c: &mut Correlator, steps: &[Step]) -> Vec<Decision> {
    let mut out = Vec::new();
    for s in steps {
        match s {
            Step::Fire(x) => {
                let firing = Firing {
                    alert: x.id,
                    labels: &x.labels,
                    annotations: &x.annotations,
                    starts_at: ms(x.at_min),
                    ends_at: x.ends_min.map(ms),
                };
                c.observe(&Event::Firing(firing), &mut out);
            }
            Step::Resolve(id, at) => c.observe(
                &Event::Resolved {
                    alert: *id,
                    at: ms(*at),
                },
                &mut out,
            ),
        }
    }
    out
}

/// The final grouping the decisions describe: incidents then recurring groups, each sorted.
fn groups(decisions: &[Decision]) -> (Vec<Vec<AlertId>>, Vec<Vec<AlertId>>) {
    let mut incidents: BTreeMap<u64, Vec<AlertId>> = BTreeMap::new();
    let mut recurring: BTreeMap<u64, Vec<AlertId>> = BTreeMap::new();
    for d in decisions {
        match d {
            Decision::Opened {
                incident, alert, ..
            } => incidents.entry(*incident).or_default().push(*alert),
            Decision::Joined { incident, link, .. } => {
                incidents.entry(*incident).or_default().push(link.alert);
            }
            Decision::Merged { from, into, .. } => {
                let moved = incidents.remove(from).unwrap_or_default();
                incidents.entry(*into).or_default().extend(moved);
            }
            Decision::Recurring {
                group,
                alert,
                moved_from,
                ..
            } => {
                if let Some(from) = moved_from {
                    if let Some(list) = incidents.get_mut(from) {
                        list.retain(|x| x != alert);
                    }
                }
                recurring.entry(*group).or_default().push(*alert);
            }
            _ => {}
        }
    }
    let sorted = |m: BTreeMap<u64, Vec<AlertId>>| {
        m.into_values()
            .filter(|v| !v.is_empty())
            .map(|mut v| {
                v.sort_unstable();
                v
            })
            .collect::<Vec<_>>()
    };
    (sorted(incidents), sorted(recurring))
}

fn fire(steps: impl IntoIterator<Item = A>) -> Vec<Step> {
    steps.into_iter().map(Step::Fire).collect()
}

fn svc(name: &str, cluster: &str) -> Vec<(&'static str, String)> {
    vec![
        ("service", name.to_owned()),
        ("cluster", cluster.to_owned()),
        ("env", "prod".to_owned()),
    ]
}

fn labels<'a>(alertname: &'a str, extra: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    let mut l = vec![("alertname", alertname)];
    l.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
    l
}

#[test]
fn a_cascade_is_one_incident_and_an_outage_elsewhere_at_the_same_time_another() {
    let (pg_a, orders_a, front_a) = (
        svc("pg-orders", "euw1"),
        svc("orders-api", "euw1"),
        svc("frontend", "euw1"),
    );
    let (redis_b, cart_b) = (svc("redis-cart", "use1"), svc("cart-api", "use1"));
    let steps = fire([
        a(1, 0.0, &labels("PostgresDown", &pg_a), "pg-orders is down"),
        a(2, 0.2, &labels("RedisDown", &redis_b), "redis-cart is down"),
        a(
            3,
            0.7,
            &labels("HighErrorRate", &orders_a),
            "High error rate on orders-api",
        ),
        a(
            4,
            0.8,
            &labels("HighErrorRate", &cart_b),
            "High error rate on cart-api",
        ),
        a(
            5,
            2.0,
            &labels("HighLatency", &front_a),
            "High latency on frontend",
        ),
    ]);
    let d = run(&mut correlator(true), &steps);
    assert_eq!(groups(&d).0, [vec![1, 3, 5], vec![2, 4]]);
    let link = d
        .iter()
        .find_map(|d| match d {
            Decision::Joined { link, .. } if link.alert == 3 => Some(link.clone()),
            _ => None,
        })
        .expect("alert 3 joined");
    assert_eq!(link.to, 1);
    assert_eq!(
        link.evidence.topology.as_ref().map(|t| t.1.as_str()),
        Some("orders-api@euw1 calls pg-orders@euw1")
    );
    assert!(link.level >= Level::High, "{link:?}");
}

#[test]
fn time_alone_never_groups() {
    // Same minute, same env, nothing else in common: two incidents.
    let steps = fire([
        a(
            1,
            0.0,
            &labels("DiskFull", &svc("billing", "euw1")),
            "Disk full",
        ),
        a(
            2,
            0.0,
            &labels("QueueStuck", &svc("mailer", "use1")),
            "Queue stuck",
        ),
    ]);
    for topology in [true, false] {
        assert_eq!(
            groups(&run(&mut correlator(topology), &steps)).0,
            [vec![1], vec![2]]
        );
    }
}

#[test]
fn a_rare_shared_label_links_and_a_common_one_does_not() {
    let mut c = correlator(false);
    // Background: many alerts with env=prod and team=core, each about something else. Two
    // alerts then share rare identity labels (a database and its shard), a third only the
    // common ones.
    let mut steps: Vec<Step> = (0..200)
        .map(|i| {
            let name = format!("Background{i}");
            let svc_name = format!("svc-{i}");
            Step::Fire(a(
                100 + i,
                f64::from(i as u32) * 0.1,
                &[
                    ("alertname", &name),
                    ("service", &svc_name),
                    ("env", "prod"),
                    ("team", "core"),
                ],
                &format!("thing {i} broke"),
            ))
        })
        .collect();
    steps.extend(fire([
        a(
            1,
            30.0,
            &[
                ("alertname", "ReplicaLag"),
                ("database", "orders-primary"),
                ("shard", "orders-7"),
                ("env", "prod"),
                ("team", "core"),
            ],
            "Replica lag",
        ),
        a(
            2,
            30.5,
            &[
                ("alertname", "SlowCheckout"),
                ("database", "orders-primary"),
                ("shard", "orders-7"),
                ("env", "prod"),
                ("team", "core"),
            ],
            "Checkout slow",
        ),
        a(
            3,
            30.6,
            &[
                ("alertname", "LoginErrors"),
                ("env", "prod"),
                ("team", "core"),
            ],
            "Logins fail",
        ),
    ]));
    let (incidents, _) = groups(&run(&mut c, &steps));
    assert!(incidents.contains(&vec![1, 2]), "{incidents:?}");
    assert!(incidents.contains(&vec![3]), "{incidents:?}");
}

#[test]
fn a_text_naming_another_service_links_to_it_without_a_topology() {
    let steps = fire([
        a(
            1,
            0.0,
            &labels("DatabaseDown", &svc("ledger-db", "dc1")),
            "ledger-db is down",
        ),
        a(
            2,
            1.0,
            &labels("ApiErrors", &svc("payments", "dc1")),
            "payments failing: calls to ledger-db refused",
        ),
        a(
            3,
            1.5,
            &[
                ("alertname", "BackendFailing"),
                ("service", "edge"),
                ("cluster", "dc1"),
                ("upstream", "payments"),
            ],
            "edge sees 502s",
        ),
    ]);
    let mut c = correlator(false);
    assert!(!c.has_topology());
    let d = run(&mut c, &steps);
    assert_eq!(groups(&d).0, [vec![1, 2, 3]]);
    let evidence: Vec<Evidence> = d
        .iter()
        .filter_map(|d| match d {
            Decision::Joined { link, .. } => Some(link.evidence.clone()),
            _ => None,
        })
        .collect();
    assert!(evidence[0].mention);
    assert_eq!(
        evidence[1].topology.as_ref().map(|t| t.0),
        Some(Relation::Upstream)
    );
}

/// A label set that fires for two minutes every `every_min` minutes, `n` times from `from_min`.
fn repeating(first_id: AlertId, from_min: f64, every_min: &[f64], l: &[(&str, &str)]) -> Vec<Step> {
    let mut t = from_min;
    let mut steps = Vec::new();
    for (i, gap) in every_min.iter().enumerate() {
        let id = first_id + i as AlertId;
        steps.push(Step::Fire(a(id, t, l, "Target down")));
        steps.push(Step::Resolve(id, t + 2.0));
        t += gap;
    }
    steps
}

#[test]
fn a_flapping_label_set_is_one_recurring_group_and_stays_out_of_the_incident_next_to_it() {
    let orders = svc("orders-api", "euw1");
    let flapper = [
        ("alertname", "TargetDown"),
        ("service", "orders-api"),
        ("cluster", "euw1"),
        ("pod", "orders-api-x1"),
    ];
    // Irregular gaps: flapping, not periodic.
    let mut steps = repeating(100, 0.0, &[7.0, 19.0, 5.0, 31.0, 11.0, 8.0], &flapper);
    // An incident on the same service while it flaps, and more flapping after.
    steps.extend(fire([
        a(
            1,
            84.0,
            &labels("PostgresDown", &svc("pg-orders", "euw1")),
            "pg down",
        ),
        a(2, 84.5, &labels("HighErrorRate", &orders), "errors"),
    ]));
    steps.extend(repeating(200, 85.0, &[9.0, 4.0], &flapper));
    let mut c = correlator(true);
    let d = run(&mut c, &steps);
    let (incidents, recurring) = groups(&d);
    assert_eq!(incidents, [vec![1, 2]]);
    assert_eq!(recurring, [vec![100, 101, 102, 103, 104, 105, 200, 201]]);
    // The earliest firings were moved out of what they had opened, as flapping.
    assert!(d.iter().any(|d| matches!(
        d,
        Decision::Recurring {
            alert: 100,
            kind: NoiseKind::Flapping,
            moved_from: Some(_),
            ..
        }
    )));
}

#[test]
fn a_label_set_firing_at_a_fixed_period_is_periodic_even_next_to_incidents() {
    let job = [
        ("alertname", "CronJobFailed"),
        ("service", "orders-api"),
        ("cluster", "euw1"),
        ("job", "cleanup"),
    ];
    let mut steps = repeating(100, 0.0, &[60.0, 60.5, 59.5, 60.0, 60.0], &job);
    // An orders incident at the time of the third run.
    steps.insert(
        4,
        Step::Fire(a(
            1,
            120.2,
            &labels("HighErrorRate", &svc("orders-api", "euw1")),
            "errors",
        )),
    );
    let d = run(&mut correlator(true), &steps);
    let (incidents, recurring) = groups(&d);
    assert_eq!(recurring, [vec![100, 101, 102, 103, 104]]);
    assert_eq!(incidents, [vec![1]]);
    assert!(d.iter().any(|d| matches!(
        d,
        Decision::Recurring {
            kind: NoiseKind::Periodic,
            ..
        }
    )));
}

#[test]
fn an_alert_that_fires_again_soon_rejoins_its_incident() {
    let orders = svc("orders-api", "euw1");
    let l = labels("HighLatency", &orders);
    let steps = vec![
        Step::Fire(a(
            1,
            0.0,
            &labels("PostgresDown", &svc("pg-orders", "euw1")),
            "pg down",
        )),
        Step::Fire(a(2, 0.5, &l, "slow")),
        Step::Resolve(2, 20.0),
        // Long after its start, but within the reopen window of its end.
        Step::Fire(a(3, 26.0, &l, "slow")),
    ];
    let d = run(&mut correlator(true), &steps);
    assert_eq!(groups(&d).0, [vec![1, 2, 3]]);
    assert!(d.iter().any(
        |d| matches!(d, Decision::Joined { link, .. } if link.alert == 3 && link.evidence.repeat)
    ));
}

#[test]
fn incidents_resolve_by_policy_reopen_within_the_window_and_close_after_it() {
    let orders = svc("orders-api", "euw1");
    let cases = [
        (ResolvePolicy::Last, Some(6.0)),
        (ResolvePolicy::First, Some(3.0)),
        (ResolvePolicy::Never, None),
    ];
    for (policy, resolved_at) in cases {
        let config = CorrelationConfig {
            resolve: policy,
            ..CorrelationConfig::default()
        };
        let mut c = Correlator::new(config, None).expect("valid");
        let steps = vec![
            Step::Fire(a(1, 0.0, &labels("HighErrorRate", &orders), "errors")),
            Step::Fire(a(2, 0.5, &labels("HighLatency", &orders), "slow")),
            Step::Resolve(1, 3.0),
            Step::Resolve(2, 6.0),
        ];
        let d = run(&mut c, &steps);
        let resolved: Vec<i64> = d
            .iter()
            .filter_map(|d| match d {
                Decision::Resolved { at, .. } => Some(*at),
                _ => None,
            })
            .collect();
        assert_eq!(
            resolved,
            resolved_at.map(ms).into_iter().collect::<Vec<_>>(),
            "{policy:?}"
        );
    }
    // Reopened within the reopen window; a new incident after it.
    let mut c = correlator(true);
    let mut steps = vec![
        Step::Fire(a(1, 0.0, &labels("HighErrorRate", &orders), "errors")),
        Step::Resolve(1, 2.0),
        Step::Fire(a(2, 4.0, &labels("HighLatency", &orders), "slow")),
    ];
    let d = run(&mut c, &steps);
    assert!(d
        .iter()
        .any(|d| matches!(d, Decision::Joined { reopened: true, link, .. } if link.alert == 2)));
    steps = vec![
        Step::Resolve(2, 5.0),
        Step::Fire(a(3, 40.0, &labels("SLOBurnRateHigh", &orders), "budget")),
    ];
    let d = run(&mut c, &steps);
    assert!(
        matches!(
            d.as_slice(),
            [
                Decision::Resolved { .. },
                Decision::Closed { .. },
                Decision::Opened { alert: 3, .. }
            ]
        ),
        "{d:?}"
    );
}

#[test]
fn the_lifetime_cap_stops_a_trickle_from_keeping_an_incident_open() {
    let orders = svc("orders-api", "euw1");
    // A new alert on the same instance every 8 minutes for 5 hours, none resolving.
    let steps: Vec<Step> = (0..38)
        .map(|i| {
            let name = format!("Symptom{i}");
            Step::Fire(a(i + 1, i as f64 * 8.0, &labels(&name, &orders), "symptom"))
        })
        .collect();
    let (incidents, _) = groups(&run(&mut correlator(true), &steps));
    // Three hours take 23 alerts (0 to 176 minutes); the rest open a second incident.
    assert_eq!(incidents.len(), 2, "{incidents:?}");
    assert_eq!(incidents[0].len(), 23);
}

#[test]
fn a_late_alert_that_links_two_fragments_merges_them() {
    // The frontend and the database alert first, with nothing between them; the API in the
    // middle fires last and links both.
    let steps = fire([
        a(
            1,
            0.0,
            &labels("PostgresDown", &svc("pg-orders", "euw1")),
            "pg down",
        ),
        a(
            2,
            0.3,
            &labels("HighLatency", &svc("frontend", "euw1")),
            "slow pages",
        ),
        a(
            3,
            0.6,
            &labels("HighErrorRate", &svc("orders-api", "euw1")),
            "errors",
        ),
    ]);
    let d = run(&mut correlator(true), &steps);
    assert_eq!(groups(&d).0, [vec![1, 2, 3]]);
    assert!(d.iter().any(|d| matches!(d, Decision::Merged { .. })));
}

#[test]
fn duplicates_and_unknown_resolutions_are_ignored() {
    let orders = svc("orders-api", "euw1");
    let steps = vec![
        Step::Fire(a(1, 0.0, &labels("HighErrorRate", &orders), "errors")),
        Step::Fire(a(1, 0.1, &labels("HighErrorRate", &orders), "errors")),
        Step::Resolve(9, 1.0),
    ];
    let d = run(&mut correlator(false), &steps);
    assert!(matches!(
        d.as_slice(),
        [
            Decision::Opened { .. },
            Decision::Ignored {
                alert: 1,
                why: Ignored::Duplicate
            },
            Decision::Ignored {
                alert: 9,
                why: Ignored::Unknown
            }
        ]
    ));
}

/// A day of mixed traffic: cascades on rotating services, flapping label sets, one-offs.
fn day(seed: u64, hours: u64) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut x = seed;
    let mut rand = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut id = 0;
    for minute in 0..hours * 60 {
        for _ in 0..rand(4) {
            id += 1;
            let s = format!("svc-{}", rand(300));
            let cluster = format!("c{}", rand(3));
            let name = [
                "HighErrorRate",
                "HighLatency",
                "TargetDown",
                "PodCrashLooping",
            ][rand(4) as usize];
            let pod = format!("{s}-{:x}", rand(1 << 20));
            let l = [
                ("alertname", name),
                ("service", &s),
                ("cluster", &cluster),
                ("pod", &pod),
                ("env", "prod"),
            ];
            let mut alert = a(
                id,
                minute as f64,
                &l,
                &format!("{name} on {s}: {} errors", rand(1000)),
            );
            alert.annotations.insert(
                "description".into(),
                format!("request {:x} failed", rand(1 << 40)),
            );
            steps.push(Step::Fire(alert));
            if rand(3) > 0 {
                steps.push(Step::Resolve(id, minute as f64 + 0.5));
            }
        }
    }
    steps
}

#[test]
fn the_same_stream_gives_the_same_decisions() {
    let steps = day(7, 6);
    let first = format!("{:?}", run(&mut correlator(true), &steps));
    let second = format!("{:?}", run(&mut correlator(true), &steps));
    assert_eq!(first, second);
    assert!(first.len() > 10_000);
}

#[test]
fn memory_is_bounded_by_open_incidents_and_the_windows() {
    let mut c = correlator(false);
    let mut peak = Stats {
        open_incidents: 0,
        alerts: 0,
        label_sets: 0,
        index_keys: 0,
        rarity_keys: 0,
        history_kinds: 0,
    };
    // Four days of traffic, checked after each day: what is held stops growing with time.
    let steps = day(11, 96);
    let mut out = Vec::new();
    let per_day = steps.len() / 4;
    let mut after_day = Vec::new();
    for (i, chunk) in steps.chunks(per_day).enumerate() {
        out.extend(run(&mut c, chunk));
        let s = c.stats();
        peak.alerts = peak.alerts.max(s.alerts);
        after_day.push((i, s));
    }
    let (_, day1) = after_day[0];
    let (_, day4) = after_day[3];
    assert!(day4.alerts <= day1.alerts * 2 + 100, "{after_day:?}");
    assert!(
        day4.label_sets <= day1.label_sets * 2 + 100,
        "{after_day:?}"
    );
    assert!(
        day4.rarity_keys <= day1.rarity_keys * 2 + 100,
        "{after_day:?}"
    );
    assert!(
        day4.index_keys <= day1.index_keys * 2 + 1000,
        "{after_day:?}"
    );
    // Incidents were closed and forgotten along the way.
    let closed = out
        .iter()
        .filter(|d| matches!(d, Decision::Closed { .. }))
        .count();
    assert!(closed > 1000, "{closed}");
    assert!(peak.alerts < steps.len() / 10, "{peak:?}");
}

#[test]
fn config_rejects_unknown_keys_and_reports_every_bad_value() {
    let err = serde_json::from_str::<CorrelationConfig>(r#"{"join_treshold": 0.5}"#)
        .expect_err("unknown key");
    assert!(err.to_string().contains("join_treshold"), "{err}");
    let bad = CorrelationConfig {
        join_threshold: 1.5,
        idle_ms: 0,
        flap_min_firings: 1,
        ..CorrelationConfig::default()
    };
    let errors = Correlator::new(bad, None).expect_err("invalid");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].starts_with("correlation.join_threshold"));
    let ok: CorrelationConfig =
        serde_json::from_str(r#"{"resolve": "first", "idle_ms": 60000}"#).expect("valid");
    assert_eq!(ok.resolve, ResolvePolicy::First);
    assert_eq!(
        ok.join_threshold,
        CorrelationConfig::default().join_threshold
    );
}

fn firing(x: &A) -> Firing<'_> {
    Firing {
        alert: x.id,
        labels: &x.labels,
        annotations: &x.annotations,
        starts_at: ms(x.at_min),
        ends_at: x.ends_min.map(ms),
    }
}

/// Incidents rebuilt after a restart keep their ids and take the alerts that link to them, as
/// if the correlator had never stopped; new incidents get ids above every id taken.
#[test]
fn placed_alerts_rebuild_an_incident_that_new_alerts_join() {
    let db = a(
        1,
        0.0,
        &[
            ("alertname", "PgDown"),
            ("service", "pg-orders"),
            ("cluster", "euw1"),
        ],
        "pg-orders primary is down",
    );
    let api = a(
        2,
        1.0,
        &[
            ("alertname", "HighErrorRate"),
            ("service", "orders-api"),
            ("cluster", "euw1"),
        ],
        "orders-api errors: connection refused by pg-orders",
    );
    let other = a(
        3,
        2.0,
        &[("alertname", "DiskFull"), ("host", "build-07")],
        "disk full on build-07",
    );
    let mut c = correlator(true);
    c.reserve_ids_up_to(40);
    assert_eq!(c.place(17, &firing(&db)), None);
    assert!(c.holds(17));
    let mut out = Vec::new();
    c.observe(&Event::Firing(firing(&api)), &mut out);
    assert!(
        matches!(&out[..], [Decision::Joined { incident: 17, .. }]),
        "{out:?}"
    );
    out.clear();
    c.observe(&Event::Firing(firing(&other)), &mut out);
    assert!(
        matches!(
            &out[..],
            [Decision::Opened {
                incident: 41,
                alert: 3,
                ..
            }]
        ),
        "{out:?}"
    );
    // Moving the only alert of an incident by hand forgets the incident it leaves.
    assert_eq!(c.place(17, &firing(&other)), Some(41));
    assert_eq!(c.incident_of(3), Some(17));
    assert!(!c.holds(41));
    assert!(!c.merge(17, 17));
    let id = c.reserve_id();
    assert_eq!(c.place(id, &firing(&db)), None);
    assert!(c.merge(id, 17));
    assert_eq!(c.incident_of(1), Some(17));
}
