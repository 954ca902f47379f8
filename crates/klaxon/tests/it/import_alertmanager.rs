//! `klaxon config import-alertmanager` on Alertmanager's own configuration fixtures
//! (`third_party/alertmanager/config/`) and on `tests/data/alertmanager-routing.yml`: the
//! output loads as `klaxon serve` loads its configuration, what is not converted is named on
//! standard error with its line, and the same alerts are routed to the same receivers by the
//! converted configuration in klaxon and by `amtool config routes test` on the original.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::harness::{klaxon, root, show, text, TempDir};

const AMTOOL: &str = "/usr/bin/amtool";

/// A maintenance window as compared: name, matchers, from, to.
type Window = (String, Vec<String>, Option<String>, Option<String>);

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
        ":22: route.routes[1].mute_time_intervals: converted approximately, to maintenance windows nights-0",
        ":32: route.routes[2].active_time_intervals: converted approximately",
        ":47: time_intervals[2]: time interval `holidays` is not converted",
        ":70: receivers[1].pagerduty_configs[0].severity: a Go template",
    ] {
        assert!(err.contains(want), "{want:?} missing from:\n{err}");
    }
    let dir = TempDir::new("import-am-windows");
    let c = load(&dir, "routing", &toml);
    let windows: Vec<Window> = c
        .maintenance
        .iter()
        .map(|m| {
            (
                m.name.clone(),
                m.matchers.clone(),
                m.from.clone(),
                m.to.clone(),
            )
        })
        .collect();
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        windows,
        [
            (
                "nights-0".to_owned(),
                vec!["team=\"web\"".to_owned()],
                s("22:00"),
                s("00:00")
            ),
            (
                "business-hours-outside-0".to_owned(),
                vec!["severity!~\"info|debug\"".to_owned()],
                s("00:00"),
                s("09:00")
            ),
            (
                "business-hours-outside-1".to_owned(),
                vec!["severity!~\"info|debug\"".to_owned()],
                s("17:00"),
                s("00:00")
            ),
            (
                "business-hours-outside-2".to_owned(),
                vec!["severity!~\"info|debug\"".to_owned()],
                s("00:00"),
                s("00:00")
            ),
        ]
    );
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
