//! `klaxon config import-alertmanager` on Alertmanager's own configuration fixtures
//! (`third_party/alertmanager/config/`) and on `tests/data/alertmanager-routing.yml`: the
//! output loads as `klaxon serve` loads its configuration, what is not converted is named on
//! standard error with its line, and the same alerts are routed to the same receivers by the
//! converted configuration in klaxon and by `amtool config routes test` on the original.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::harness::{get, klaxon, root, show, text, Serve, TempDir};

const AMTOOL: &str = "/usr/bin/amtool";

/// An alert's labels.
type Labels<'a> = &'a [(&'a str, &'a str)];

/// The fixtures: Alertmanager's, and klaxon's own.
fn fixtures() -> Vec<PathBuf> {
    let dir = root().join("third_party/alertmanager/config");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the fixtures folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    out.sort();
    assert!(out.len() >= 10, "{out:?}");
    out.push(root().join("crates/klaxon/tests/data/alertmanager-routing.yml"));
    out
}

/// Converts `file`: (the TOML, stderr).
fn import(file: &Path) -> (String, String) {
    let out = klaxon()
        .args(["config", "import-alertmanager"])
        .arg(file)
        .output()
        .expect("run klaxon");
    assert!(out.status.success(), "{}: {}", file.display(), show(&out));
    (text(&out.stdout), text(&out.stderr))
}

/// Loads converted TOML as `klaxon serve` does.
fn load(dir: &TempDir, name: &str, toml: &str) -> klaxon_server::config::Config {
    let path = dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, toml).expect("write");
    klaxon_server::config::load(Some(&path), &[], &klaxon_server::config::Flags::default())
        .unwrap_or_else(|e| {
            panic!("{name}: the converted configuration does not load: {e}\n{toml}")
        })
}

#[test]
fn every_fixture_converts_into_a_configuration_that_loads() {
    let dir = TempDir::new("import-am");
    for f in fixtures() {
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        let (toml, _) = import(&f);
        let c = load(&dir, &name, &toml);
        assert!(c.route.is_some(), "{name}: no route\n{toml}");
        assert!(!c.receivers.is_empty(), "{name}: no receivers\n{toml}");
    }
}

#[test]
fn what_is_not_converted_is_named_with_its_file_and_line() {
    let f = root().join("third_party/alertmanager/config/conf.good.yml");
    let (toml, err) = import(&f);
    let name = f.display().to_string();
    for want in [
        format!("{name}:9: global.http_config: not converted"),
        format!("{name}:13: templates: Go template files are not converted"),
        format!(
            "{name}:104: receivers[5].victorops_configs: `victorops_configs`: not supported yet"
        ),
        format!("{name}:108: receivers[6].opsgenie_configs: `opsgenie_configs`: not supported yet"),
        format!("{name}:111: receivers[7].pushover_configs: `pushover_configs`: not supported yet"),
    ] {
        assert!(err.contains(&want), "{want:?} missing from:\n{err}");
    }
    // Kept as a comment, as written.
    assert!(
        toml.contains("# opsgenie_configs:\n#   - api_key: mysecret\n"),
        "{toml}"
    );
    // Alertmanager's defaults that differ from klaxon's are written out.
    assert!(toml.contains("[[receivers.email_configs]]\nto = [\"team-X+alerts@example.org\"]\nsend_resolved = false\n"), "{toml}");

    let (toml, err) = import(&root().join("crates/klaxon/tests/data/alertmanager-routing.yml"));
    for want in [
        ":70: receivers[1].pagerduty_configs[0].severity: a Go template",
        ":74: receivers[2].slack_configs[0].title: a Go template",
    ] {
        assert!(err.contains(want), "{want:?} missing from:\n{err}");
    }
    // Time intervals convert as written: no note, no maintenance window.
    assert!(!err.contains("time_interval"), "{err}");
    let dir = TempDir::new("import-am-intervals");
    let c = load(&dir, "routing", &toml);
    assert!(c.maintenance.is_empty());
    let names: Vec<&str> = c.time_intervals.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["business-hours", "holidays", "nights"]);
    let route = c.route.as_ref().expect("a route");
    assert_eq!(route.routes[1].mute_time_intervals, ["nights"]);
    assert_eq!(route.routes[2].active_time_intervals, ["business-hours"]);
    let holidays = &c.time_intervals[1].time_intervals[0];
    assert_eq!(
        holidays.days_of_month.as_deref(),
        Some(&["25".to_owned()][..])
    );
    assert_eq!(
        holidays.months.as_deref(),
        Some(&["december".to_owned()][..])
    );
    let nights = &c.time_intervals[2].time_intervals[0];
    assert_eq!(nights.location.as_deref(), Some("Europe/Berlin"));
    assert_eq!(
        nights.times.as_ref().map(|t| t[0].end_time.as_str()),
        Some("24:00")
    );
    // The routes mute at the instants Alertmanager's would: `nights` is 22:00-24:00 Monday to
    // Friday in Berlin, `business-hours` 09:00-17:00 Monday to Friday in UTC.
    let notifier = c
        .notifier()
        .expect("the routes and their intervals compile");
    let route = notifier.route.as_ref().expect("a route");
    let muted = |labels: &[(&str, &str)], at: &str| -> Vec<(String, bool)> {
        let set: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let now = klaxon_engine::timestamp::parse_ts_str(at).expect("an instant");
        route
            .targets(&set)
            .iter()
            .map(|t| (t.receiver.to_string(), t.time_mute.muted_at(now).is_some()))
            .collect()
    };
    // Taken by the `team: web` route itself (no child route takes `env=prod`): its child
    // routes do not inherit its intervals, as in Alertmanager.
    let web = [("alertname", "A"), ("team", "web"), ("env", "prod")];
    let s = |r: &str, m: bool| (r.to_owned(), m);
    // Monday 2024-01-15: 21:30 UTC is 22:30 in Berlin.
    assert_eq!(muted(&web, "2024-01-15T21:30:00Z"), [s("web", true)]);
    assert_eq!(muted(&web, "2024-01-15T20:30:00Z"), [s("web", false)]);
    // Saturday 22:30 in Berlin: not a weekday.
    assert_eq!(muted(&web, "2024-01-20T21:30:00Z"), [s("web", false)]);
    let web_dev = [("alertname", "A"), ("team", "web")];
    assert_eq!(muted(&web_dev, "2024-01-15T21:30:00Z"), [s("web", false)]);
    let ops = [("alertname", "A"), ("severity", "warning")];
    assert_eq!(muted(&ops, "2024-01-15T10:00:00Z"), [s("ops", false)]);
    assert_eq!(muted(&ops, "2024-01-15T17:00:00Z"), [s("ops", true)]);
    assert_eq!(muted(&ops, "2024-01-20T10:00:00Z"), [s("ops", true)]);
    assert_eq!(c.lifecycle.resolve_timeout_seconds, 120);
    assert_eq!(c.inhibit.len(), 2);
    let web = c
        .receivers
        .iter()
        .find(|r| r.name == "web-api")
        .expect("web-api");
    assert_eq!(web.email_configs[0].to, ["a@example.com", "b@example.com"]);
}

#[test]
fn a_file_that_is_not_yaml_is_refused_with_its_line() {
    let dir = TempDir::new("import-am-bad");
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "route:\n  receiver: [a,\n").expect("write");
    let out = klaxon()
        .args(["config", "import-alertmanager"])
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.yml:3:") && err.contains("not YAML"),
        "{err}"
    );
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_it_is_read() {
    let dir = TempDir::new("import-am-big");
    let big = dir.path().join("big.yml");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len((16 << 20) + 1)
        .expect("a sparse file of 16 MiB and one byte");
    let out = klaxon()
        .args(["config", "import-alertmanager"])
        .arg(&big)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("16777217 bytes, over the limit of 16777216"),
        "{}",
        show(&out)
    );
}

/// The receivers `amtool config routes test` chooses for `labels` on the original file.
fn amtool_routes(file: &Path, labels: &[(&str, &str)]) -> String {
    let mut cmd = std::process::Command::new(AMTOOL);
    cmd.args(["config", "routes", "test"])
        .arg(format!("--config.file={}", file.display()));
    for (k, v) in labels {
        cmd.arg(format!("{k}={v}"));
    }
    let out = cmd.output().expect("run amtool");
    assert!(out.status.success(), "amtool: {}", show(&out));
    text(&out.stdout).trim().to_owned()
}

#[test]
fn converted_routes_choose_the_receivers_amtool_chooses_on_the_original() {
    if !Path::new(AMTOOL).exists() {
        assert!(
            std::env::var_os("KLAXON_REQUIRE_PEERS").is_none(),
            "KLAXON_REQUIRE_PEERS is set but {AMTOOL} is missing"
        );
        println!("skipped: amtool not installed (apt-get install prometheus-alertmanager)");
        return;
    }
    let dir = TempDir::new("import-am-routes");
    let cases: &[(&str, &[Labels])] = &[
        (
            "third_party/alertmanager/config/conf.good.yml",
            &[
                &[("alertname", "A")],
                &[("service", "foo1")],
                &[("service", "foo2"), ("severity", "critical")],
                &[("service", "files"), ("severity", "critical")],
                &[("service", "files"), ("severity", "warning")],
                &[("service", "database")],
                &[("service", "database"), ("owner", "team-Y")],
                &[("service", "database"), ("owner2", "team-X")],
                &[
                    ("service", "database"),
                    ("owner2", "team-X"),
                    ("owner", "team-Y"),
                ],
                &[
                    ("service", "baz"),
                    ("severity", "critical"),
                    ("owner", "team-Y"),
                ],
            ],
        ),
        (
            "third_party/alertmanager/config/cli-conf.routing.yml",
            &[
                &[("test", "1")],
                &[("test", "2")],
                &[("test", "3")],
                &[("other", "x")],
            ],
        ),
        (
            "crates/klaxon/tests/data/alertmanager-routing.yml",
            &[
                &[("alertname", "A"), ("severity", "critical"), ("team", "db")],
                &[
                    ("alertname", "A"),
                    ("severity", "critical"),
                    ("team", "web"),
                ],
                &[("alertname", "A"), ("severity", "info"), ("team", "infra")],
                &[("alertname", "A"), ("team", "web"), ("service", "gw")],
                &[
                    ("alertname", "A"),
                    ("team", "web"),
                    ("service", "db"),
                    ("env", "dev"),
                ],
                &[("alertname", "A"), ("team", "web"), ("env", "prod")],
                &[("alertname", "A"), ("severity", "debug")],
                &[("alertname", "A"), ("severity", "warning")],
                &[("alertname", "A")],
            ],
        ),
    ];
    let mut compared = 0;
    for (file, alerts) in cases {
        let file = root().join(file);
        let (toml, _) = import(&file);
        let config = load(&dir, "routes", &toml);
        let notifier = config.notifier().expect("compiles");
        let route = notifier.route.as_ref().expect("a route");
        for labels in *alerts {
            let set: BTreeMap<String, String> = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let ours: Vec<String> = route
                .targets(&set)
                .iter()
                .map(|t| t.receiver.to_string())
                .collect();
            let theirs = amtool_routes(&file, labels);
            assert_eq!(ours.join(","), theirs, "{}: {labels:?}", file.display());
            compared += 1;
        }
    }
    assert_eq!(compared, 23);
}

/// A small seeded generator (splitmix64), so a disagreement is found again with its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }
}

/// The plain values a regular expression's alternative names: one per character of its first
/// class (`[12]` gives `1` and `2`), else itself.
fn class_values(alt: &str) -> Vec<String> {
    if let (Some(open), Some(close)) = (alt.find('['), alt.find(']')) {
        if open < close {
            return alt[open + 1..close]
                .chars()
                .filter(|c| *c != '-' && *c != '^')
                .map(|c| format!("{}{c}{}", &alt[..open], &alt[close + 1..]))
                .collect();
        }
    }
    vec![alt.to_owned()]
}

/// The label names and values a routing tree's matchers (`match`, `match_re`, `matchers`)
/// name, regular expressions split at `|` into their plain alternatives; values amtool's
/// command line could not carry plainly are left out.
fn matcher_values(route: &yaml_rust2::Yaml, out: &mut BTreeMap<String, Vec<String>>) {
    use yaml_rust2::Yaml;
    let scalar = |v: &Yaml| match v {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    };
    let mut add = |name: &str, value: &str| {
        for alt in value.split('|').flat_map(class_values) {
            let plain: String = alt
                .chars()
                .filter(|c| !"^$()[]*+?\\{}".contains(*c))
                .collect();
            let plain = plain.trim_start_matches(".").to_owned();
            let fine = |s: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.@+".contains(c))
            };
            if fine(name) && fine(&plain) {
                let values = out.entry(name.to_owned()).or_default();
                if !values.contains(&plain) {
                    values.push(plain);
                }
            }
        }
    };
    for key in ["match", "match_re"] {
        if let Yaml::Hash(h) = &route[key] {
            for (k, v) in h {
                if let (Some(k), Some(v)) = (k.as_str(), scalar(v)) {
                    add(k, &v);
                }
            }
        }
    }
    if let Yaml::Array(list) = &route["matchers"] {
        for m in list.iter().filter_map(Yaml::as_str) {
            let Some(at) = m.find(['=', '!']) else {
                continue;
            };
            let name = m[..at].trim();
            let value = m[at..]
                .trim_start_matches(['=', '!', '~'])
                .trim()
                .trim_matches('"');
            add(name, value);
        }
    }
    if let Yaml::Array(children) = &route["routes"] {
        for child in children {
            matcher_values(child, out);
        }
    }
}

/// How many receivers a routing tree names.
fn receivers_named(route: &yaml_rust2::Yaml) -> usize {
    fn walk<'a>(r: &'a yaml_rust2::Yaml, out: &mut std::collections::BTreeSet<&'a str>) {
        if let Some(name) = r["receiver"].as_str() {
            out.insert(name);
        }
        for child in r["routes"].as_vec().into_iter().flatten() {
            walk(child, out);
        }
    }
    let mut names = std::collections::BTreeSet::new();
    walk(route, &mut names);
    names.len()
}

/// Routes at least `total` random label sets (seeded by `seed`), spread evenly over the fixtures
/// whose route has child routes, through the converted configuration in klaxon and through `amtool config
/// routes test` on the original, and asserts that every receiver list agrees. Label values are
/// the matchers' own values, or noise. Returns how many were compared.
fn random_routing_agreement(total: usize, seed: u64) -> usize {
    let dir = TempDir::new("import-am-random");
    let mut rng = Rng(seed);
    let mut compared = 0;
    let with_routes: Vec<(PathBuf, yaml_rust2::Yaml)> = fixtures()
        .into_iter()
        .filter_map(|file| {
            let original = std::fs::read_to_string(&file).expect("read the fixture");
            let mut docs = yaml_rust2::YamlLoader::load_from_str(&original).expect("YAML");
            let doc = docs.swap_remove(0);
            let has = doc["route"]["routes"]
                .as_vec()
                .is_some_and(|r| !r.is_empty());
            has.then_some((file, doc))
        })
        .collect();
    assert!(with_routes.len() >= 4, "{}", with_routes.len());
    let per_fixture = total.div_ceil(with_routes.len());
    for (file, doc) in with_routes {
        let route = &doc["route"];
        let mut values = BTreeMap::new();
        matcher_values(route, &mut values);
        values.entry("alertname".to_owned()).or_default();
        let names: Vec<String> = values.keys().cloned().collect();
        let (toml, _) = import(&file);
        let config = load(&dir, "random", &toml);
        let notifier = config.notifier().expect("compiles");
        let route = notifier.route.as_ref().expect("a route");
        let mut outcomes = std::collections::BTreeSet::new();
        for _ in 0..per_fixture {
            let mut set = BTreeMap::new();
            for name in &names {
                if rng.below(2) == 0 {
                    continue;
                }
                let known = &values[name];
                let value = if known.is_empty() || rng.below(4) == 0 {
                    format!("noise{}", rng.below(3))
                } else {
                    known[rng.below(known.len())].clone()
                };
                set.insert(name.clone(), value);
            }
            let ours: Vec<String> = route
                .targets(&set)
                .iter()
                .map(|t| t.receiver.to_string())
                .collect();
            let labels: Vec<(&str, &str)> =
                set.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let theirs = amtool_routes(&file, &labels);
            assert_eq!(
                ours.join(","),
                theirs,
                "{} (seed {seed}): {labels:?}",
                file.display()
            );
            outcomes.insert(theirs);
            compared += 1;
        }
        // The label sets reach more than the root's receiver, when routes name others.
        assert!(
            outcomes.len() > 1 || receivers_named(&doc["route"]) == 1,
            "{}: only {outcomes:?}",
            file.display()
        );
        println!("{}: {outcomes:?}", file.display());
    }
    compared
}

fn amtool_installed() -> bool {
    if Path::new(AMTOOL).exists() {
        return true;
    }
    assert!(
        std::env::var_os("KLAXON_REQUIRE_PEERS").is_none(),
        "KLAXON_REQUIRE_PEERS is set but {AMTOOL} is missing"
    );
    println!("skipped: amtool not installed (apt-get install prometheus-alertmanager)");
    false
}

#[test]
fn random_label_sets_choose_the_receivers_amtool_chooses() {
    if !amtool_installed() {
        return;
    }
    // Bounded: amtool takes some 70 ms a call. The full thousand is the ignored test below.
    let compared = random_routing_agreement(200, 0x6b6c_6178_6f6e);
    assert!(compared >= 200, "{compared}");
}

/// `cargo test -p klaxon --test it -- --ignored thousand_random_label_sets`: the figure of
/// BENCHMARKS.md's "Alertmanager conformance" table.
#[test]
#[ignore = "about 1,000 amtool calls; run by hand for BENCHMARKS.md"]
fn thousand_random_label_sets_choose_the_receivers_amtool_chooses() {
    if !amtool_installed() {
        return;
    }
    let started = std::time::Instant::now();
    let compared = random_routing_agreement(1000, 0x616d_746f_6f6c);
    assert!(compared >= 1000, "{compared}");
    println!(
        "{compared} random label sets, every receiver list agrees with amtool ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
}

/// Runs `amtool check-config` on `file`: success, and what it printed.
fn amtool_check_config(file: &Path) -> (bool, String) {
    let out = std::process::Command::new(AMTOOL)
        .arg("check-config")
        .arg(file)
        .output()
        .expect("run amtool check-config");
    (out.status.success(), show(&out))
}

/// The fixtures are good input: Alertmanager's own loader accepts every one.
#[test]
fn amtool_check_config_accepts_every_original_fixture() {
    if !amtool_installed() {
        return;
    }
    for f in fixtures() {
        let (ok, out) = amtool_check_config(&f);
        assert!(ok, "{}: {out}", f.display());
    }
}

/// After a move from Alertmanager, the configuration klaxon serves in Alertmanager's shape
/// (`GET /api/v2/status`, `config.original`), which amtool, Grafana and other clients load as
/// an `alertmanager.yml`, passes `amtool check-config`: every fixture is imported, served by
/// the real `klaxon serve`, and its status configuration checked.
#[test]
fn the_status_configuration_of_every_imported_fixture_passes_amtool_check_config() {
    if !amtool_installed() {
        return;
    }
    let dir = TempDir::new("import-am-check-config");
    let mut checked = 0;
    for (i, f) in fixtures().into_iter().enumerate() {
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        let (toml, _) = import(&f);
        let config = dir.path().join(format!("{name}.toml"));
        std::fs::write(&config, &toml).expect("write the converted configuration");
        let server = Serve::start_with(&dir.path().join(format!("data-{i}")), Some(&config));
        let (status, v) = get(&server.addr, "/api/v2/status");
        assert_eq!(status, 200, "{name}: {v}");
        let original = v["config"]["original"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no config.original in {v}"));
        let served = dir.path().join(format!("{name}.status.yml"));
        std::fs::write(&served, original).expect("write the status configuration");
        let (ok, out) = amtool_check_config(&served);
        assert!(
            ok,
            "{name}: amtool check-config refuses what klaxon serves:\n{out}\n{original}\nfrom:\n{toml}"
        );
        checked += 1;
    }
    assert_eq!(checked, fixtures().len());
}
