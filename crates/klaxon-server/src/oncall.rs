//! On-call schedules in the server: the checks of a schedule as people write it (its name, its
//! sizes, its time zone loaded from the IANA database) and its compilation with the engine's
//! `oncall::compile`, shared by the API and the configuration loader; and [`OnCall`], the
//! compiled schedules of the store, which every part of the server asks "who is on call for
//! schedule S at T". Knows no HTTP and no SQL.
//!
//! Time zones come from the system's database (`/usr/share/zoneinfo`, kept current by the
//! operating system's `tzdata`) and, where a machine has none, from the copy of the IANA
//! database built into the binary (jiff's bundled tzdb), so a schedule loads the same on a
//! minimal machine.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use jiff::tz::TimeZone;
use klaxon_engine::oncall::{self, OverrideConfig, Schedule, ScheduleConfig, Source};
use klaxon_engine::timestamp::{format_ts, parse_ts_str};
use klaxon_store::{Origin, ScheduleRecord, Store, StoreError};

use crate::people::{check_name, Problem};

/// Schedules in all.
pub(crate) const SCHEDULES: usize = 1000;
/// Layers of one schedule.
pub(crate) const LAYERS: usize = 16;
/// Users in one layer's rotation.
pub(crate) const LAYER_USERS: usize = 200;
/// Restriction windows of one layer.
pub(crate) const RESTRICTIONS: usize = 28;
/// Overrides of one schedule, declared and added.
pub(crate) const OVERRIDES: usize = 1000;
/// A shift length, hand-off, time of day or weekday, in bytes.
pub(crate) const FIELD: usize = 64;
/// The longest range of shifts one question may ask for.
pub(crate) const RANGE_DAYS: i64 = 90;
pub(crate) const DAY_MS: i64 = 86_400_000;

fn problem(field: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        field: field.into(),
        message: message.into(),
    }
}

/// The zone of an IANA name: the system's database first, the built-in copy where there is
/// none.
pub(crate) fn zone(name: &str) -> Result<TimeZone, String> {
    if name.len() > FIELD {
        return Err(format!("{} bytes, over the limit of {FIELD}", name.len()));
    }
    TimeZone::get(name).map_err(|_| {
        format!("{name:?} is not a known time zone (an IANA name such as \"Europe/Berlin\")")
    })
}

fn check_len(out: &mut Vec<Problem>, field: String, v: &str) {
    if v.len() > FIELD {
        out.push(problem(
            field,
            format!("{} bytes, over the limit of {FIELD}", v.len()),
        ));
    }
}

/// The sizes and names the engine does not check: counts, text lengths, user names.
fn check_sizes(c: &ScheduleConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    out.extend(check_name("name", &c.name).err());
    if c.layers.len() > LAYERS {
        out.push(problem(
            "layers",
            format!("{} entries, over the limit of {LAYERS}", c.layers.len()),
        ));
        return out;
    }
    if c.overrides.len() > OVERRIDES {
        out.push(problem(
            "overrides",
            format!(
                "{} entries, over the limit of {OVERRIDES}",
                c.overrides.len()
            ),
        ));
        return out;
    }
    for (i, l) in c.layers.iter().enumerate() {
        let at = |f: &str| format!("layers[{i}].{f}");
        if l.users.len() > LAYER_USERS {
            out.push(problem(
                at("users"),
                format!("{} entries, over the limit of {LAYER_USERS}", l.users.len()),
            ));
        } else {
            for (k, u) in l.users.iter().enumerate() {
                out.extend(check_name(&at(&format!("users[{k}]")), u).err());
            }
        }
        check_len(&mut out, at("shift"), &l.shift);
        check_len(&mut out, at("handoff"), &l.handoff);
        if l.restrict.len() > RESTRICTIONS {
            out.push(problem(
                at("restrict"),
                format!(
                    "{} entries, over the limit of {RESTRICTIONS}",
                    l.restrict.len()
                ),
            ));
            continue;
        }
        for (j, r) in l.restrict.iter().enumerate() {
            check_len(&mut out, at(&format!("restrict[{j}].from")), &r.from);
            check_len(&mut out, at(&format!("restrict[{j}].to")), &r.to);
            let days = r.days.as_deref().unwrap_or_default();
            if days.len() > 7 {
                out.push(problem(
                    at(&format!("restrict[{j}].days")),
                    "at most the 7 days of a week",
                ));
            }
            for (k, d) in days.iter().enumerate() {
                check_len(&mut out, at(&format!("restrict[{j}].days[{k}]")), d);
            }
        }
    }
    for (i, o) in c.overrides.iter().enumerate() {
        out.extend(check_name(&format!("overrides[{i}].user"), &o.user).err());
        check_len(&mut out, format!("overrides[{i}].start"), &o.start);
        check_len(&mut out, format!("overrides[{i}].end"), &o.end);
    }
    out
}

/// Every problem of a schedule but users that do not exist (the caller checks those), each
/// with its field (`layers[0].shift`, `overrides[1]`); else the schedule compiled.
pub(crate) fn check(c: &ScheduleConfig) -> Result<Schedule, Vec<Problem>> {
    let mut out = check_sizes(c);
    if !out.is_empty() {
        return Err(out);
    }
    let tz = match zone(&c.time_zone) {
        Ok(tz) => Some(tz),
        Err(m) => {
            out.push(problem("time_zone", m));
            None
        }
    };
    let compiled = oncall::compile(c, tz.clone().unwrap_or(TimeZone::UTC));
    if let Err(errors) = &compiled {
        out.extend(errors.iter().map(|e| {
            let field = match e.layer {
                Some(i) => format!("layers[{i}].{}", e.field),
                None => e.field.clone(),
            };
            problem(field, e.message.clone())
        }));
    }
    match compiled {
        Ok(s) if out.is_empty() => Ok(s),
        _ => Err(out),
    }
}

/// Every user a schedule names, each once, sorted.
pub(crate) fn users_of(c: &ScheduleConfig) -> Vec<String> {
    let mut users: Vec<String> = (c.user_references().into_iter())
        .map(|(_, _, u)| u.to_owned())
        .collect();
    users.sort();
    users.dedup();
    users
}

/// A schedule as the store keeps it.
pub(crate) fn record(c: &ScheduleConfig, origin: Origin, now: i64) -> ScheduleRecord {
    ScheduleRecord {
        name: c.name.clone(),
        definition: serde_json::to_string(c).unwrap_or_default(),
        users: users_of(c),
        overrides: Vec::new(),
        origin,
        created_at: now,
        updated_at: now,
    }
}

/// Where a shift comes from, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShiftSource {
    /// The layer at this 0-based index.
    Layer(usize),
    /// An override declared with the schedule, at this index of its `overrides`.
    Declared(usize),
    /// An override added through the API, by id.
    Added(i64),
}

/// One schedule of the store, compiled.
#[derive(Debug)]
pub(crate) struct Entry {
    pub record: ScheduleRecord,
    /// The definition as declared.
    pub config: ScheduleConfig,
    /// The definition with the added overrides after the declared ones.
    pub schedule: Schedule,
    /// The ids of added overrides left out because they overlap a declared one (the
    /// configuration file declared it after they were added); empty in the usual case.
    pub left_out: Vec<i64>,
}

impl Entry {
    /// Compiles a stored schedule: its definition with its added overrides, but those that
    /// overlap a declared override (a declaration changed under them), which are left out and
    /// named.
    fn compile(mut record: ScheduleRecord) -> Result<Entry, String> {
        let config: ScheduleConfig = serde_json::from_str(&record.definition)
            .map_err(|e| format!("schedule {:?}: stored definition: {e}", record.name))?;
        let tz = zone(&config.time_zone)?;
        let declared = declared_spans(&config);
        let (kept, clashing): (Vec<_>, Vec<_>) = std::mem::take(&mut record.overrides)
            .into_iter()
            .partition(|o| overlapping(&declared, o.start, o.end).is_none());
        record.overrides = kept;
        let mut full = config.clone();
        full.overrides
            .extend(record.overrides.iter().map(|o| OverrideConfig {
                user: o.user.clone(),
                start: format_ts(o.start),
                end: format_ts(o.end),
            }));
        let schedule = oncall::compile(&full, tz).map_err(|e| {
            let text: Vec<String> = e.iter().map(ToString::to_string).collect();
            text.join("; ")
        })?;
        Ok(Entry {
            record,
            config,
            schedule,
            left_out: clashing.iter().map(|o| o.id).collect(),
        })
    }

    /// The override, declared or added, that `[start, end)` overlaps, if any: its user and
    /// span.
    pub(crate) fn overlap(&self, start: i64, end: i64) -> Option<(String, i64, i64)> {
        let declared = declared_spans(&self.config);
        let added = (self.record.overrides.iter()).map(|o| (o.user.clone(), o.start, o.end));
        let all: Vec<(String, i64, i64)> = declared.into_iter().chain(added).collect();
        overlapping(&all, start, end).cloned()
    }

    /// What a shift's source is.
    pub(crate) fn from(&self, source: Source) -> ShiftSource {
        match source {
            Source::Layer(i) => ShiftSource::Layer(i),
            Source::Override(i) => {
                let declared = self.config.overrides.len();
                match i.checked_sub(declared) {
                    None => ShiftSource::Declared(i),
                    Some(k) => self
                        .record
                        .overrides
                        .get(k)
                        .map_or(ShiftSource::Declared(i), |o| ShiftSource::Added(o.id)),
                }
            }
        }
    }
}

/// The declared overrides of a schedule as (user, start, end) in epoch ms.
fn declared_spans(c: &ScheduleConfig) -> Vec<(String, i64, i64)> {
    (c.overrides.iter())
        .filter_map(|o| {
            let start = parse_ts_str(&o.start).ok()?;
            let end = parse_ts_str(&o.end).ok()?;
            Some((o.user.clone(), start, end))
        })
        .collect()
}

fn overlapping(spans: &[(String, i64, i64)], start: i64, end: i64) -> Option<&(String, i64, i64)> {
    spans.iter().find(|(_, s, e)| *s < end && start < *e)
}

/// The compiled schedules of the store, replaced whole after every change (readers never
/// wait for a change, and never see half of one).
#[derive(Debug, Default)]
pub(crate) struct OnCall {
    schedules: RwLock<Arc<BTreeMap<String, Arc<Entry>>>>,
    /// One reload at a time, so that the last to finish read the latest commit.
    reloading: tokio::sync::Mutex<()>,
}

impl OnCall {
    /// Who is on call for schedule `schedule` at `at_ms` (epoch ms): the user's name, or
    /// `None` when nobody is (a gap in the rotation, a restriction's off hours) or there is no
    /// such schedule. Layers, restrictions and overrides (declared and added through the API)
    /// all count; the answer follows every committed change at once.
    pub(crate) fn on_call(&self, schedule: &str, at_ms: i64) -> Option<String> {
        let entry = self.get(schedule)?;
        entry.schedule.on_call_at(at_ms).map(str::to_owned)
    }

    /// The compiled schedule of that name.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Entry>> {
        self.all().get(name).cloned()
    }

    /// Every compiled schedule, by name.
    pub(crate) fn all(&self) -> Arc<BTreeMap<String, Arc<Entry>>> {
        match self.schedules.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Reads every schedule from the store and compiles it (at start); a stored schedule that
    /// no longer compiles (its zone gone from the database) is left out, with an error in the
    /// log.
    pub(crate) async fn reload<S: Store>(&self, store: &S) -> Result<(), StoreError> {
        let _one = self.reloading.lock().await;
        let mut map = BTreeMap::new();
        for record in store.list_schedules().await? {
            let name = record.name.clone();
            if let Some(e) = compiled(record) {
                map.insert(name, Arc::new(e));
            }
        }
        self.replace(map);
        Ok(())
    }

    /// Reads one schedule from the store again after a change to it (gone if deleted): the
    /// others are kept as compiled.
    pub(crate) async fn reload_one<S: Store>(
        &self,
        store: &S,
        name: &str,
    ) -> Result<(), StoreError> {
        let _one = self.reloading.lock().await;
        let mut map = BTreeMap::clone(&self.all());
        map.remove(name);
        if let Some(record) = store.get_schedule(name).await? {
            if let Some(e) = compiled(record) {
                map.insert(name.to_owned(), Arc::new(e));
            }
        }
        self.replace(map);
        Ok(())
    }

    fn replace(&self, map: BTreeMap<String, Arc<Entry>>) {
        let map = Arc::new(map);
        match self.schedules.write() {
            Ok(mut g) => *g = map,
            Err(poisoned) => *poisoned.into_inner() = map,
        }
    }
}

/// A stored schedule compiled, or `None` with an error in the log.
fn compiled(record: ScheduleRecord) -> Option<Entry> {
    let name = record.name.clone();
    match Entry::compile(record) {
        Ok(e) => {
            if !e.left_out.is_empty() {
                tracing::warn!(
                    schedule = %name,
                    overrides = ?e.left_out,
                    "overrides added through the API clash with the declared ones and are left out"
                );
            }
            Some(e)
        }
        Err(e) => {
            tracing::error!(schedule = %name, "schedule left out: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use klaxon_engine::oncall::LayerConfig;

    use super::*;

    fn config() -> ScheduleConfig {
        ScheduleConfig {
            name: "db".into(),
            time_zone: "Europe/Berlin".into(),
            layers: vec![LayerConfig {
                users: vec!["alice".into(), "bob".into()],
                shift: "1d".into(),
                handoff: "2026-12-07T09:00:00".into(),
                restrict: Vec::new(),
            }],
            overrides: Vec::new(),
        }
    }

    fn fields(r: Result<Schedule, Vec<Problem>>) -> Vec<String> {
        r.err()
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.field)
            .collect()
    }

    #[test]
    fn problems_name_their_field_and_sizes_are_bounded() {
        assert!(check(&config()).is_ok());
        let mut bad = config();
        bad.time_zone = "Mars/Base".into();
        bad.layers[0].shift = "0d".into();
        bad.layers[0].users[1] = "b b".into();
        assert_eq!(
            fields(check(&bad)),
            ["layers[0].users[1]"],
            "names first: they are checked before anything compiles"
        );
        bad.layers[0].users[1] = "bob".into();
        assert_eq!(fields(check(&bad)), ["time_zone", "layers[0].shift"]);
        let mut many = config();
        many.layers = vec![config().layers[0].clone(); LAYERS + 1];
        assert_eq!(fields(check(&many)), ["layers"]);
        let mut at_limit = config();
        at_limit.layers = vec![config().layers[0].clone(); LAYERS];
        assert!(check(&at_limit).is_ok());
        let mut long = config();
        long.layers[0].users = vec!["alice".into(); LAYER_USERS + 1];
        assert_eq!(fields(check(&long)), ["layers[0].users"]);
        let mut text = config();
        text.layers[0].shift = "1".repeat(FIELD + 1);
        assert_eq!(fields(check(&text)), ["layers[0].shift"]);
        let mut windows = config();
        windows.layers[0].restrict = vec![
            klaxon_engine::oncall::RestrictionConfig {
                days: None,
                from: "09:00".into(),
                to: "18:00".into(),
            };
            RESTRICTIONS + 1
        ];
        assert_eq!(fields(check(&windows)), ["layers[0].restrict"]);
        windows.layers[0].restrict.pop();
        assert!(check(&windows).is_ok());
    }

    #[test]
    fn the_binary_carries_the_iana_database_for_machines_without_one() {
        let bundled = jiff::tz::TimeZoneDatabase::bundled();
        let berlin = bundled
            .get("Europe/Berlin")
            .expect("Berlin in the bundled database");
        for t in [
            "2026-03-29T00:59:59Z",
            "2026-03-29T01:00:00Z",
            "2026-10-25T01:00:00Z",
        ] {
            let ts: jiff::Timestamp = t.parse().expect("a timestamp");
            let system = zone("Europe/Berlin").expect("Berlin").to_offset(ts);
            assert_eq!(berlin.to_offset(ts), system, "{t}");
        }
    }
}
