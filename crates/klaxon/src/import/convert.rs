//! `alertmanager.yml` → klaxon's configuration: the routing tree (`matchers`, old `match` and
//! `match_re`, grouping, timings, `continue`, mute and active time intervals), the named time
//! intervals, inhibition rules, receivers (webhook, e-mail, Slack, PagerDuty; every other integration kept as a
//! comment) and the `global` defaults they use. Every construct it does not convert, or converts
//! only approximately, is a [`Note`] with its YAML path and line. Pure: text in, text out.

use std::collections::BTreeMap;

use klaxon_engine::matcher::{self, Written};

use super::toml_out::{self, TVal, Table};
use super::yaml::{self, Node, Value};

/// Something not converted as written, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    pub(crate) line: usize,
    /// The YAML path: `receivers[2].opsgenie_configs`.
    pub(crate) path: String,
    pub(crate) message: String,
}

/// The converted configuration (TOML text) and every note, in document order.
pub(crate) fn convert(text: &str) -> Result<(String, Vec<Note>), yaml::YamlError> {
    let doc = yaml::parse(text)?;
    let mut c = Conv {
        lines: text.lines().collect(),
        notes: Vec::new(),
        tables: Vec::new(),
        intervals: BTreeMap::new(),
        used: std::collections::BTreeSet::new(),
        global: Global::default(),
    };
    c.document(&doc);
    c.notes.sort_by_key(|n| n.line);
    let top = vec![
        "klaxon configuration converted from an Alertmanager configuration by".to_owned(),
        "`klaxon config import-alertmanager`. What was not converted, or only approximately, is"
            .to_owned(),
        "listed on its standard error with its place, and marked below.".to_owned(),
    ];
    Ok((toml_out::write(&top, &c.tables), c.notes))
}

/// What `global` gives the receivers.
#[derive(Default)]
struct Global {
    slack_api_url: Option<String>,
    pagerduty_url: Option<String>,
    smtp_require_tls: Option<bool>,
}

struct Conv<'a> {
    lines: Vec<&'a str>,
    notes: Vec<Note>,
    tables: Vec<Table>,
    /// `time_intervals` (and the older `mute_time_intervals`) by name.
    intervals: BTreeMap<String, (Node, String)>,
    /// The names of the intervals routes refer to.
    used: std::collections::BTreeSet<String>,
    global: Global,
}

const INTEGRATIONS: [&str; 4] = [
    "webhook_configs",
    "email_configs",
    "slack_configs",
    "pagerduty_configs",
];

impl Conv<'_> {
    fn note(&mut self, node: &Node, path: &str, message: impl Into<String>) {
        self.notes.push(Note {
            line: node.line,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// The lines of `key: value` as written, for a comment.
    fn written(&self, key: &Node, value: &Node) -> String {
        let first = key.line.saturating_sub(1);
        let last = if value.end > key.line {
            value.end - 1
        } else {
            key.line
        };
        let mut lines: Vec<&str> = self
            .lines
            .get(first..last.min(self.lines.len()))
            .unwrap_or_default()
            .to_vec();
        while lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines.pop();
        }
        let indent = lines
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        lines
            .iter()
            .map(|l| l.get(indent..).unwrap_or(l.trim_start()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn document(&mut self, doc: &Node) {
        let Some(entries) = doc.entries() else {
            self.note(doc, "", "the document is not a map of Alertmanager's keys");
            return;
        };
        // Intervals and globals first: routes and receivers refer to them.
        for (k, v) in entries {
            match k.text().unwrap_or_default() {
                "time_intervals" | "mute_time_intervals" => {
                    let key = k.text().unwrap_or_default().to_owned();
                    self.collect_intervals(v, &key);
                }
                "global" => self.global(v),
                _ => {}
            }
        }
        let mut route = None;
        for (k, v) in entries {
            let key = k.text().unwrap_or_default();
            match key {
                "time_intervals" | "mute_time_intervals" | "global" => {}
                "route" => route = Some(v),
                "inhibit_rules" => self.inhibit_rules(v),
                "receivers" => {}
                "templates" => {
                    if !v.is_null() && v.items().is_some_and(|i| !i.is_empty()) {
                        self.note(
                            v,
                            "templates",
                            "Go template files are not converted: klaxon's channels use their own templates (minijinja, docs/notifications.md); the defaults apply",
                        );
                    }
                }
                other => self.note(k, other, "not converted (klaxon has no such setting)"),
            }
        }
        match route {
            Some(r) => self.route(r, "route", "route", &[]),
            None => self.note(doc, "route", "missing: Alertmanager needs a root route"),
        }
        self.time_intervals();
        for (k, v) in entries {
            if k.text() == Some("receivers") {
                self.receivers(v);
            }
        }
    }

    fn global(&mut self, g: &Node) {
        let Some(entries) = g.entries() else { return };
        let mut lifecycle = Table::new("[lifecycle]");
        let mut smtp = Table::new("[smtp]");
        let mut password_file = false;
        for (k, v) in entries {
            let key = k.text().unwrap_or_default();
            let path = format!("global.{key}");
            let text = v.text().map(str::to_owned);
            match (key, text) {
                ("resolve_timeout", Some(t)) => match am_duration(&t) {
                    Some(ms) => lifecycle.set("resolve_timeout_seconds", TVal::Int(ms / 1000)),
                    None => self.note(v, &path, format!("`{t}` is not a duration")),
                },
                ("smtp_from", Some(t)) => smtp.set("from", TVal::Str(t)),
                ("smtp_smarthost", Some(t)) => {
                    // Port 465 is implicit TLS in Alertmanager, whatever smtp_require_tls says.
                    if t.ends_with(":465") {
                        smtp.keys.retain(|(k, _)| k != "tls");
                        smtp.set("tls", TVal::Str("tls".into()));
                    }
                    smtp.set("smarthost", TVal::Str(t));
                }
                ("smtp_hello", Some(t)) => smtp.set("hello", TVal::Str(t)),
                ("smtp_auth_username", Some(t)) => smtp.set("username", TVal::Str(t)),
                ("smtp_auth_password", Some(t)) => smtp.set("password", TVal::Str(t)),
                ("smtp_require_tls", Some(t)) => {
                    let on = t != "false";
                    self.global.smtp_require_tls = Some(on);
                    if !on && !smtp.keys.iter().any(|(k, _)| k == "tls") {
                        smtp.set("tls", TVal::Str("none".into()));
                    }
                }
                ("smtp_auth_password_file", Some(_)) => {
                    self.note(
                        k,
                        &path,
                        "not converted: klaxon reads no password file; set `[smtp] password` (or KLAXON_SMTP__PASSWORD); `smtp_auth_username` is left out with it",
                    );
                    password_file = true;
                }
                ("slack_api_url", Some(t)) => self.global.slack_api_url = Some(t),
                ("pagerduty_url", Some(t)) => self.global.pagerduty_url = Some(t),
                _ if v.is_null() => {}
                _ => self.note(
                    k,
                    &path,
                    "not converted (klaxon has no such setting, or only integrations it does not support yet use it)",
                ),
            }
        }
        if password_file && !smtp.keys.iter().any(|(k, _)| k == "password") {
            smtp.keys.retain(|(k, _)| k != "username");
        }
        for t in [lifecycle, smtp] {
            if !t.keys.is_empty() {
                self.tables.push(t);
            }
        }
    }

    fn collect_intervals(&mut self, list: &Node, key: &str) {
        let Some(items) = list.items() else { return };
        for (i, it) in items.iter().enumerate() {
            let name = it
                .entries()
                .and_then(|m| m.iter().find(|(k, _)| k.text() == Some("name")))
                .and_then(|(_, v)| v.text())
                .unwrap_or_default()
                .to_owned();
            self.intervals
                .insert(name, (it.clone(), format!("{key}[{i}]")));
        }
    }

    /// Matchers of a route or an inhibition rule's side: `matchers` strings and the older
    /// `match` / `match_re` maps, written as klaxon reads them. `None` after a note when one
    /// cannot be converted.
    fn matchers(
        &mut self,
        list: &Node,
        path: &str,
        op_of_map: Option<&str>,
    ) -> Option<Vec<String>> {
        let mut out = Vec::new();
        match (op_of_map, &list.value) {
            (Some(op), Value::Map(entries)) => {
                for (k, v) in entries {
                    let w = Written {
                        name: k.text().unwrap_or_default().to_owned(),
                        op: if op == "=" { "=" } else { "=~" },
                        value: v.text().unwrap_or_default().to_owned(),
                    };
                    out.push(self.checked(&w.to_string(), v, &format!("{path}.{}", w.name))?);
                }
            }
            (None, Value::List(items)) => {
                for (i, m) in items.iter().enumerate() {
                    let at = format!("{path}[{i}]");
                    let text = m.text().unwrap_or_default();
                    match matcher::parse_filter_parts(text) {
                        Ok(parts) => {
                            for w in parts {
                                out.push(self.checked(&w.to_string(), m, &at)?);
                            }
                        }
                        Err(e) => {
                            self.note(m, &at, format!("not converted: {e}"));
                            return None;
                        }
                    }
                }
            }
            _ if list.is_null() => {}
            _ => {
                self.note(list, path, "not converted: expected a list of matchers");
                return None;
            }
        }
        Some(out)
    }

    /// `written` if klaxon reads it back as a matcher.
    fn checked(&mut self, written: &str, node: &Node, path: &str) -> Option<String> {
        match matcher::parse_filter(written) {
            Ok(_) => Some(written.to_owned()),
            Err(e) => {
                self.note(node, path, format!("not converted: {e}"));
                None
            }
        }
    }

    fn route(&mut self, r: &Node, path: &str, table: &str, ancestors: &[String]) {
        let Some(entries) = r.entries() else {
            self.note(r, path, "not converted: a route is a map");
            return;
        };
        let root = ancestors.is_empty() && path == "route";
        let mut t = Table::new(if root {
            "[route]".to_owned()
        } else {
            format!("[[{table}]]")
        });
        let mut own = Vec::new();
        let mut children = None;
        let mut mute = None;
        let mut active = None;
        for (k, v) in entries {
            let key = k.text().unwrap_or_default();
            let at = format!("{path}.{key}");
            match key {
                "receiver" => {
                    if let Some(x) = v.text() {
                        t.set("receiver", TVal::Str(x.to_owned()));
                    }
                }
                "group_by" => {
                    let names: Vec<String> = v
                        .items()
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|n| n.text().map(str::to_owned))
                        .collect();
                    t.set("group_by", TVal::strs(&names));
                }
                "group_wait" | "group_interval" | "repeat_interval" => {
                    match v.text().and_then(am_duration) {
                        Some(ms) => t.set(key, TVal::Str(klaxon_duration(ms))),
                        None => self.note(v, &at, "not converted: not a duration"),
                    }
                }
                "continue" => {
                    if v.text() == Some("true") {
                        t.set("continue", TVal::Bool(true));
                    }
                }
                "matchers" | "match" | "match_re" => {
                    let op = match key {
                        "match" => Some("="),
                        "match_re" => Some("=~"),
                        _ => None,
                    };
                    match self.matchers(v, &at, op) {
                        Some(m) => own.extend(m),
                        None => {
                            self.note(
                                r,
                                path,
                                "route not converted (nor its child routes): one of its matchers is not; its alerts go to its parent's receiver",
                            );
                            return;
                        }
                    }
                }
                "routes" => children = Some(v),
                "mute_time_intervals" => mute = Some((k, v)),
                "active_time_intervals" => active = Some((k, v)),
                _ if v.is_null() => {}
                other => self.note(
                    k,
                    &at,
                    format!("`{other}` not converted (klaxon routes have no such key)"),
                ),
            }
        }
        if !own.is_empty() {
            t.set("matchers", TVal::strs(&own));
        }
        let mut scope: Vec<String> = ancestors.to_vec();
        scope.extend(own.iter().cloned());
        for (what, named) in [
            ("mute_time_intervals", mute),
            ("active_time_intervals", active),
        ] {
            if let Some((k, v)) = named {
                self.route_intervals(k, v, &format!("{path}.{what}"), root, what, &mut t);
            }
        }
        self.tables.push(t);
        if let Some(list) = children {
            let child_table = if root {
                "route.routes".to_owned()
            } else {
                format!("{table}.routes")
            };
            for (i, c) in list.items().unwrap_or_default().iter().enumerate() {
                self.route(c, &format!("{path}.routes[{i}]"), &child_table, &scope);
            }
        }
    }

    /// A route's `mute_time_intervals` or `active_time_intervals`: the names, as written, of
    /// intervals the document defines.
    fn route_intervals(
        &mut self,
        key: &Node,
        list: &Node,
        at: &str,
        root: bool,
        what: &str,
        t: &mut Table,
    ) {
        if root {
            self.note(
                key,
                at,
                "not converted: the root route takes every alert and has no time intervals (Alertmanager refuses them there too)",
            );
            return;
        }
        let mut names = Vec::new();
        for n in list.items().unwrap_or_default() {
            let Some(name) = n.text() else { continue };
            if self.intervals.contains_key(name) {
                self.used.insert(name.to_owned());
                names.push(name.to_owned());
            } else {
                self.note(
                    n,
                    at,
                    format!("no time interval is named `{name}`; left out"),
                );
            }
        }
        if !names.is_empty() {
            t.set(what, TVal::strs(&names));
        }
    }

    /// Every named time interval, as `[[time_intervals]]` with Alertmanager's keys and values;
    /// one that klaxon refuses (as Alertmanager would) is noted and left out, with the routes'
    /// references to it.
    fn time_intervals(&mut self) {
        let intervals: Vec<(String, (Node, String))> = self
            .intervals
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (name, (node, path)) in intervals {
            let mut tables = vec![Table::new("[[time_intervals]]")];
            tables[0].set("name", TVal::Str(name.clone()));
            let mut ok = true;
            let list = node
                .entries()
                .and_then(|m| m.iter().find(|(k, _)| k.text() == Some("time_intervals")))
                .map(|(_, v)| v.clone());
            for (j, spec) in list
                .as_ref()
                .and_then(Node::items)
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                match self.interval(spec, &format!("{path}.time_intervals[{j}]")) {
                    Some(t) => tables.extend(t),
                    None => ok = false,
                }
            }
            if ok {
                self.tables.extend(tables);
            } else {
                self.drop_interval(&name);
            }
        }
    }

    /// A route that names a dropped interval names it no more.
    fn drop_interval(&mut self, name: &str) {
        for t in &mut self.tables {
            for (k, v) in &mut t.keys {
                if k == "mute_time_intervals" || k == "active_time_intervals" {
                    if let TVal::Arr(items) = v {
                        items.retain(|x| *x != TVal::Str(name.to_owned()));
                    }
                }
            }
            t.keys.retain(|(k, v)| {
                !(matches!(k.as_str(), "mute_time_intervals" | "active_time_intervals")
                    && matches!(v, TVal::Arr(items) if items.is_empty()))
            });
        }
    }

    /// One entry of an interval's `time_intervals`: its tables, or `None` after a note when
    /// klaxon (as Alertmanager) refuses it.
    fn interval(&mut self, spec: &Node, path: &str) -> Option<Vec<Table>> {
        let mut t = Table::new("[[time_intervals.time_intervals]]");
        let mut times = Vec::new();
        let mut parsed = klaxon_engine::noise::IntervalSpec::default();
        for (k, v) in spec.entries().unwrap_or_default() {
            let key = k.text().unwrap_or_default();
            let at = format!("{path}.{key}");
            let texts = || -> Vec<String> {
                v.items()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|n| n.text().map(str::to_owned))
                    .collect()
            };
            match key {
                "weekdays" | "days_of_month" | "months" | "years" => {
                    let values = texts();
                    t.set(key, TVal::strs(&values));
                    let field = match key {
                        "weekdays" => &mut parsed.weekdays,
                        "days_of_month" => &mut parsed.days_of_month,
                        "months" => &mut parsed.months,
                        _ => &mut parsed.years,
                    };
                    *field = Some(values);
                }
                "times" => {
                    let mut ranges = Vec::new();
                    for tr in v.items().unwrap_or_default() {
                        let get = |name: &str| {
                            tr.entries()
                                .and_then(|m| m.iter().find(|(k, _)| k.text() == Some(name)))
                                .and_then(|(_, v)| v.text())
                                .unwrap_or_default()
                                .to_owned()
                        };
                        let r = klaxon_engine::noise::TimeRangeSpec {
                            start_time: get("start_time"),
                            end_time: get("end_time"),
                        };
                        let mut tt = Table::new("[[time_intervals.time_intervals.times]]");
                        tt.set("start_time", TVal::Str(r.start_time.clone()));
                        tt.set("end_time", TVal::Str(r.end_time.clone()));
                        times.push(tt);
                        ranges.push(r);
                    }
                    parsed.times = Some(ranges);
                }
                "location" => {
                    if let Some(z) = v.text() {
                        t.set("location", TVal::Str(z.to_owned()));
                        parsed.location = Some(z.to_owned());
                    }
                }
                _ if v.is_null() => {}
                other => {
                    self.note(
                        k,
                        &at,
                        format!(
                            "`{other}` is not a key of a time interval; interval not converted"
                        ),
                    );
                    return None;
                }
            }
        }
        // The zone is loaded when klaxon starts; here, what Alertmanager checks of the rest.
        if let Err(es) =
            klaxon_engine::noise::TimeInterval::compile(&parsed, |_| Ok(jiff::tz::TimeZone::UTC))
        {
            self.note(spec, path, format!("not converted: {}", es.join("; ")));
            return None;
        }
        let mut out = vec![t];
        out.extend(times);
        Some(out)
    }

    fn inhibit_rules(&mut self, list: &Node) {
        for (i, r) in list.items().unwrap_or_default().iter().enumerate() {
            let path = format!("inhibit_rules[{i}]");
            let mut t = Table::new("[[inhibit]]");
            t.set("name", TVal::Str(format!("inhibit-{i}")));
            let (mut source, mut target, mut equal) = (Vec::new(), Vec::new(), Vec::new());
            let mut ok = true;
            for (k, v) in r.entries().unwrap_or_default() {
                let key = k.text().unwrap_or_default();
                let at = format!("{path}.{key}");
                let side = match key {
                    "source_matchers" | "source_match" | "source_match_re" => &mut source,
                    "target_matchers" | "target_match" | "target_match_re" => &mut target,
                    "equal" => {
                        equal.extend(
                            v.items()
                                .unwrap_or_default()
                                .iter()
                                .filter_map(|n| n.text().map(str::to_owned)),
                        );
                        continue;
                    }
                    _ if v.is_null() => continue,
                    other => {
                        self.note(k, &at, format!("`{other}` not converted"));
                        continue;
                    }
                };
                let op = if key.ends_with("_match") {
                    Some("=")
                } else if key.ends_with("_match_re") {
                    Some("=~")
                } else {
                    None
                };
                let mut got = Vec::new();
                match self.matchers(v, &at, op) {
                    Some(m) => got.extend(m),
                    None => ok = false,
                }
                side.extend(got);
            }
            if !ok {
                self.note(
                    r,
                    &path,
                    "inhibition rule not converted: one of its matchers is not",
                );
                continue;
            }
            t.set("source_matchers", TVal::strs(&source));
            t.set("target_matchers", TVal::strs(&target));
            if !equal.is_empty() {
                t.set("equal", TVal::strs(&equal));
            }
            self.tables.push(t);
        }
    }

    fn receivers(&mut self, list: &Node) {
        for (i, r) in list.items().unwrap_or_default().iter().enumerate() {
            let path = format!("receivers[{i}]");
            let Some(entries) = r.entries() else { continue };
            let mut t = Table::new("[[receivers]]");
            let name = entries
                .iter()
                .find(|(k, _)| k.text() == Some("name"))
                .and_then(|(_, v)| v.text())
                .unwrap_or_default();
            t.set("name", TVal::Str(name.to_owned()));
            let mut channels = Vec::new();
            for (k, v) in entries {
                let key = k.text().unwrap_or_default();
                let at = format!("{path}.{key}");
                if key == "name" || v.is_null() {
                    continue;
                }
                if INTEGRATIONS.contains(&key) {
                    let mut failed = Vec::new();
                    for (j, c) in v.items().unwrap_or_default().iter().enumerate() {
                        let cat = format!("{at}[{j}]");
                        match self.channel(key, c, &cat) {
                            Some(ch) => channels.push(ch),
                            None => failed.push(j.to_string()),
                        }
                    }
                    if !failed.is_empty() {
                        t.trailer.push(format!(
                            "{key} [{}]: not converted (see the notes on standard error); as written:",
                            failed.join(", ")
                        ));
                        t.trailer.push(self.written(k, v));
                    }
                } else if key.ends_with("_configs") {
                    self.note(
                        k,
                        &at,
                        format!("`{key}`: not supported yet (klaxon sends by webhook, e-mail, Slack and PagerDuty); kept as a comment"),
                    );
                    t.trailer
                        .push(format!("{key}: not supported yet; as written:"));
                    t.trailer.push(self.written(k, v));
                } else {
                    self.note(k, &at, format!("`{key}` not converted"));
                }
            }
            self.tables.push(t);
            self.tables.extend(channels);
        }
    }

    /// One channel of a receiver; `None` after a note when it cannot be converted.
    fn channel(&mut self, kind: &str, c: &Node, path: &str) -> Option<Table> {
        let mut t = Table::new(format!("[[receivers.{kind}]]"));
        let mut fields: BTreeMap<&str, (&Node, &Node)> = BTreeMap::new();
        for (k, v) in c.entries().unwrap_or_default() {
            if !v.is_null() {
                fields.insert(k.text().unwrap_or_default(), (k, v));
            }
        }
        let text = |name: &str| {
            fields
                .get(name)
                .and_then(|(_, v)| v.text())
                .map(str::to_owned)
        };
        // Alertmanager's defaults of send_resolved differ by integration; klaxon's is true.
        let resolved_default = matches!(kind, "webhook_configs" | "pagerduty_configs");
        let resolved = text("send_resolved").map_or(resolved_default, |s| s == "true");
        let mut used: Vec<&str> = vec!["send_resolved"];
        match kind {
            "webhook_configs" => {
                let Some(url) = text("url") else {
                    self.note(
                        c,
                        path,
                        "not converted: no `url` (klaxon has no `url_file`)",
                    );
                    return None;
                };
                t.set("url", TVal::Str(url));
                used.push("url");
                if let Some(n) = text("max_alerts").and_then(|m| m.parse::<i64>().ok()) {
                    if n > 0 {
                        t.set("max_alerts", TVal::Int(n));
                    }
                    used.push("max_alerts");
                }
                if let Some((_, h)) = fields.get("http_config") {
                    used.push("http_config");
                    if let Some(header) = self.http_auth(h, &format!("{path}.http_config")) {
                        t.set(
                            "headers",
                            TVal::Inline(vec![("Authorization".into(), TVal::Str(header))]),
                        );
                    }
                }
            }
            "slack_configs" => {
                let Some(url) = text("api_url").or_else(|| self.global.slack_api_url.clone())
                else {
                    self.note(c, path, "not converted: no `api_url` here or in `global` (klaxon has no `api_url_file`)");
                    return None;
                };
                t.set("url", TVal::Str(url));
                used.push("api_url");
                for k in ["channel", "username", "icon_emoji"] {
                    if let Some(v) = text(k) {
                        t.set(k, TVal::Str(v));
                        used.push(k);
                    }
                }
                for k in ["title", "text"] {
                    if let Some(v) = text(k) {
                        used.push(k);
                        if let Some(v) = self.literal(&v, fields[k].1, &format!("{path}.{k}")) {
                            t.set(k, TVal::Str(v));
                        }
                    }
                }
            }
            "email_configs" => {
                if fields.contains_key("auth_password_file") {
                    self.note(c, path, "not converted: klaxon reads no password file (`auth_password_file`); write the password as `password`");
                    return None;
                }
                let Some(to) = text("to") else {
                    self.note(c, path, "not converted: no `to`");
                    return None;
                };
                let list: Vec<String> = to
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                t.set("to", TVal::strs(&list));
                used.push("to");
                for (am, kx) in [
                    ("from", "from"),
                    ("smarthost", "smarthost"),
                    ("hello", "hello"),
                    ("auth_username", "username"),
                    ("auth_password", "password"),
                ] {
                    if let Some(v) = text(am) {
                        if am == "smarthost" && v.ends_with(":465") {
                            t.set("tls", TVal::Str("tls".into()));
                        }
                        t.set(kx, TVal::Str(v));
                        used.push(am);
                    }
                }
                if let Some(v) = text("require_tls") {
                    used.push("require_tls");
                    if v == "false" && !t.keys.iter().any(|(k, _)| k == "tls") {
                        t.set("tls", TVal::Str("none".into()));
                    }
                }
                if let Some((_, tls)) = fields.get("tls_config") {
                    used.push("tls_config");
                    for (k, v) in tls.entries().unwrap_or_default() {
                        match k.text() {
                            Some("ca_file") => t.set(
                                "ca_file",
                                TVal::Str(v.text().unwrap_or_default().to_owned()),
                            ),
                            _ => self.note(
                                k,
                                &format!("{path}.tls_config.{}", k.text().unwrap_or_default()),
                                "not converted",
                            ),
                        }
                    }
                }
                if let Some((_, h)) = fields.get("headers") {
                    used.push("headers");
                    for (k, v) in h.entries().unwrap_or_default() {
                        let name = k.text().unwrap_or_default();
                        let at = format!("{path}.headers.{name}");
                        if name.eq_ignore_ascii_case("subject") {
                            if let Some(s) = self.literal(v.text().unwrap_or_default(), v, &at) {
                                t.set("subject", TVal::Str(s));
                            }
                        } else {
                            self.note(
                                k,
                                &at,
                                "not converted: klaxon's e-mails have no extra headers",
                            );
                        }
                    }
                }
                for k in ["html", "text"] {
                    if let Some(v) = text(k) {
                        used.push(k);
                        if let Some(v) = self.literal(&v, fields[k].1, &format!("{path}.{k}")) {
                            t.set(k, TVal::Str(v));
                        }
                    }
                }
            }
            "pagerduty_configs" => {
                let Some(key) = text("routing_key") else {
                    self.note(c, path, "not converted: no `routing_key` (klaxon sends Events API v2; a `service_key` is for v1, and klaxon has no `routing_key_file`)");
                    return None;
                };
                t.set("routing_key", TVal::Str(key));
                used.push("routing_key");
                let url = text("url").or_else(|| self.global.pagerduty_url.clone());
                used.push("url");
                if let Some(u) = url.filter(|u| u != "https://events.pagerduty.com/v2/enqueue") {
                    t.set("url", TVal::Str(u));
                }
                if let Some(v) = text("description") {
                    used.push("description");
                    if let Some(v) =
                        self.literal(&v, fields["description"].1, &format!("{path}.description"))
                    {
                        t.set("summary", TVal::Str(v));
                    }
                }
                for k in ["severity", "component", "group", "class"] {
                    if let Some(v) = text(k) {
                        used.push(k);
                        if let Some(v) = self.literal(&v, fields[k].1, &format!("{path}.{k}")) {
                            if k == "severity"
                                && !matches!(v.as_str(), "critical" | "error" | "warning" | "info")
                            {
                                self.note(fields[k].1, &format!("{path}.{k}"), format!("`{v}` is not a PagerDuty severity; klaxon maps the alert's own"));
                                continue;
                            }
                            t.set(k, TVal::Str(v));
                        }
                    }
                }
            }
            _ => return None,
        }
        t.set("send_resolved", TVal::Bool(resolved));
        for (name, (k, _)) in &fields {
            if !used.contains(name) {
                let at = format!("{path}.{name}");
                self.note(k, &at, format!("`{name}` not converted"));
            }
        }
        Some(t)
    }

    /// A template field kept only when it holds no Go template (then it reads the same in
    /// klaxon's templates); else a note, and the channel's default.
    fn literal(&mut self, v: &str, node: &Node, path: &str) -> Option<String> {
        if v.contains("{{") || v.contains("{%") || v.contains("{#") {
            self.note(node, path, "a Go template: not converted (klaxon's templates are minijinja, docs/notifications.md); the channel's default applies");
            None
        } else {
            Some(v.to_owned())
        }
    }

    /// An `http_config`'s credentials as an `Authorization` header; the rest noted.
    fn http_auth(&mut self, h: &Node, path: &str) -> Option<String> {
        let mut header = None;
        for (k, v) in h.entries().unwrap_or_default() {
            let key = k.text().unwrap_or_default();
            let at = format!("{path}.{key}");
            match key {
                "authorization" => {
                    let get = |n: &str| {
                        v.entries()
                            .and_then(|m| m.iter().find(|(k, _)| k.text() == Some(n)))
                            .and_then(|(_, v)| v.text())
                            .map(str::to_owned)
                    };
                    match get("credentials") {
                        Some(c) => header = Some(format!("{} {c}", get("type").unwrap_or_else(|| "Bearer".into()))),
                        None => self.note(v, &at, "not converted: only `credentials` is (not `credentials_file`)"),
                    }
                }
                "bearer_token" => header = v.text().map(|t| format!("Bearer {t}")),
                "basic_auth" => {
                    let get = |n: &str| {
                        v.entries()
                            .and_then(|m| m.iter().find(|(k, _)| k.text() == Some(n)))
                            .and_then(|(_, v)| v.text())
                            .map(str::to_owned)
                    };
                    match (get("username"), get("password")) {
                        (Some(u), Some(p)) => header = Some(format!("Basic {}", base64(format!("{u}:{p}").as_bytes()))),
                        _ => self.note(v, &at, "not converted: only `username` with `password` is"),
                    }
                }
                "follow_redirects" | "enable_http2" => {}
                _ if v.is_null() => {}
                other => self.note(k, &at, format!("`{other}` not converted (klaxon's outbound HTTP settings are `[notify]`'s)")),
            }
        }
        header
    }
}

/// Prometheus's duration syntax (`1h30m`, `1d`, `1y`, `0`), in milliseconds.
pub(crate) fn am_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    let (mut total, mut rest) = (0i64, s);
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, size) = [
            ("ms", 1),
            ("y", 365 * 86_400_000),
            ("w", 7 * 86_400_000),
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u))?;
        rest = &rest[unit.len()..];
        total = total.checked_add(n.checked_mul(size)?)?;
    }
    Some(total)
}

/// Milliseconds in klaxon's duration grammar, largest unit first.
pub(crate) fn klaxon_duration(ms: i64) -> String {
    klaxon_engine::duration::format_ms(ms)
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_convert_between_the_grammars() {
        assert_eq!(am_duration("1h30m"), Some(5_400_000));
        assert_eq!(am_duration("1y"), Some(365 * 86_400_000));
        assert_eq!(am_duration("0"), Some(0));
        assert_eq!(am_duration("10"), None);
        assert_eq!(klaxon_duration(5_400_000), "1h30m");
        assert_eq!(klaxon_duration(365 * 86_400_000), "52w1d");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"ab"), "YWI=");
    }

    #[test]
    fn what_is_not_converted_is_noted_with_its_line() {
        let (toml, notes) = convert(
            "route:\n  receiver: a\n  routes:\n  - match_re:\n      team: db|infra\n    receiver: b\n    foo: 1\nreceivers:\n- name: a\n  opsgenie_configs:\n  - api_key: k\n- name: b\n",
        )
        .expect("converts");
        assert!(
            toml.contains("matchers = [\"team=~\\\"db|infra\\\"\"]"),
            "{toml}"
        );
        assert!(
            toml.contains("# opsgenie_configs:\n# - api_key: k\n"),
            "{toml}"
        );
        let at: Vec<(usize, &str)> = notes.iter().map(|n| (n.line, n.path.as_str())).collect();
        assert_eq!(
            at,
            [
                (7, "route.routes[0].foo"),
                (10, "receivers[0].opsgenie_configs")
            ]
        );
    }

    /// Every fixture with one line left out, and cut after each line: whatever the conversion
    /// makes of a damaged file, it does not panic and what it prints reads back as TOML.
    #[test]
    fn damaged_fixtures_never_panic_and_always_print_toml() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files: Vec<std::path::PathBuf> =
            std::fs::read_dir(root.join("third_party/alertmanager/config"))
                .expect("fixtures")
                .flatten()
                .map(|e| e.path())
                .collect();
        files.push(root.join("crates/klaxon/tests/data/alertmanager-routing.yml"));
        let mut converted = 0;
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read");
            let lines: Vec<&str> = text.lines().collect();
            for k in 0..lines.len() {
                let without: Vec<&str> = lines
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != k)
                    .map(|(_, l)| *l)
                    .collect();
                for variant in [without.join("\n"), lines[..=k].join("\n")] {
                    if let Ok((toml, _)) = convert(&variant) {
                        toml::from_str::<toml::Table>(&toml).unwrap_or_else(|e| {
                            panic!("{}: line {k}: {e}\n{variant}\n---\n{toml}", f.display())
                        });
                        converted += 1;
                    }
                }
            }
        }
        assert!(converted > 500, "{converted}");
    }

    #[test]
    fn routes_keep_their_time_intervals_by_name_and_every_interval_converts_as_written() {
        let (toml, notes) = convert(
            "route:\n  receiver: a\n  routes:\n  - matchers: [x=\"1\"]\n    mute_time_intervals: [n, missing]\n  - matchers: [x=\"2\"]\n    active_time_intervals: [n]\n\
             time_intervals:\n- name: n\n  time_intervals:\n  - weekdays: ['monday:friday']\n    days_of_month: ['-7:-1']\n    months: [december]\n    years: ['2024:2026']\n    location: Europe/Berlin\n    times:\n    - start_time: '22:00'\n      end_time: '24:00'\n\
             - name: unused\n  time_intervals:\n  - weekdays: [monday]\nreceivers:\n- name: a\n",
        )
        .expect("converts");
        let t: toml::Table = toml::from_str(&toml).expect(&toml);
        let routes = t["route"]["routes"].as_array().expect("routes");
        assert_eq!(
            routes[0]["mute_time_intervals"].as_array().map(Vec::len),
            Some(1),
            "{toml}"
        );
        assert_eq!(routes[1]["active_time_intervals"][0].as_str(), Some("n"));
        let intervals = t["time_intervals"].as_array().expect("intervals");
        assert_eq!(intervals.len(), 2, "{toml}");
        let n = &intervals[0];
        assert_eq!(n["name"].as_str(), Some("n"));
        let spec = &n["time_intervals"][0];
        assert_eq!(spec["days_of_month"][0].as_str(), Some("-7:-1"));
        assert_eq!(spec["months"][0].as_str(), Some("december"));
        assert_eq!(spec["years"][0].as_str(), Some("2024:2026"));
        assert_eq!(spec["location"].as_str(), Some("Europe/Berlin"));
        assert_eq!(spec["times"][0]["end_time"].as_str(), Some("24:00"));
        assert!(t.get("maintenance").is_none(), "{toml}");
        assert_eq!(
            notes.iter().map(|n| n.message.as_str()).collect::<Vec<_>>(),
            ["no time interval is named `missing`; left out"]
        );
    }

    #[test]
    fn an_interval_alertmanager_refuses_is_noted_and_left_out_with_its_references() {
        let (toml, notes) = convert(
            "route:\n  receiver: a\n  routes:\n  - matchers: [x=\"1\"]\n    mute_time_intervals: [bad]\n\
             time_intervals:\n- name: bad\n  time_intervals:\n  - weekdays: ['friday:monday']\nreceivers:\n- name: a\n",
        )
        .expect("converts");
        let t: toml::Table = toml::from_str(&toml).expect(&toml);
        assert!(t.get("time_intervals").is_none(), "{toml}");
        assert!(
            t["route"]["routes"][0].get("mute_time_intervals").is_none(),
            "{toml}"
        );
        assert!(
            notes
                .iter()
                .any(|n| n.path == "time_intervals[0].time_intervals[0]"
                    && n.message.contains("start day cannot be after end day")),
            "{notes:?}"
        );
    }

    #[test]
    fn implicit_tls_wins_whatever_the_order_of_the_keys() {
        for text in [
            "global:\n  smtp_require_tls: false\n  smtp_smarthost: m:465\nroute:\n  receiver: a\nreceivers:\n- name: a\n",
            "global:\n  smtp_smarthost: m:465\n  smtp_require_tls: false\nroute:\n  receiver: a\nreceivers:\n- name: a\n",
        ] {
            let (toml, _) = convert(text).expect("converts");
            let t: toml::Table = toml::from_str(&toml).expect(&toml);
            assert_eq!(t["smtp"]["tls"].as_str(), Some("tls"), "{toml}");
        }
    }
}
