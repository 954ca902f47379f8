//! The topology document and where alerts sit on it: clusters and their nodes, services with
//! their deployments and dependencies, instance-level call edges, and the relation between two
//! alerts' places (same pod, instance or host, a call edge, an `upstream` label, ...). Owns
//! parsing (every error at once, each with its path) and placement; no I/O.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::text::{key, key2, tag};

/// An error of the topology document, with the JSON path it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    #[error("not a JSON document: {0}")]
    Json(String),
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> TopologyError {
    TopologyError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

/// A parsed topology: services, clusters, and the instance-level call graph.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    services: Vec<Service>,
    service_by_name: HashMap<String, u32>,
    clusters: Vec<String>,
    cluster_by_name: HashMap<String, u32>,
    instances: Vec<Instance>,
    /// `key2(NAME, service, cluster)` of each instance.
    instance_keys: Vec<u64>,
    /// `key2(NAME, service, cluster)` → instance.
    instance_by_key: HashMap<u64, u32>,
    /// Host name → the cluster it belongs to.
    host_cluster: HashMap<String, u32>,
    /// Host name → the instances deployed on it (sorted).
    host_instances: HashMap<String, Vec<u32>>,
}

#[derive(Debug, Clone)]
struct Service {
    name: String,
    namespace: Option<String>,
    /// Clusters it runs in, home first.
    clusters: Vec<u32>,
}

#[derive(Debug, Clone)]
struct Instance {
    service: u32,
    cluster: u32,
    callees: Vec<u32>,
    callers: Vec<u32>,
    hosts: Vec<String>,
}

impl Topology {
    /// Number of services and of instance-level call edges.
    pub fn size(&self) -> (usize, usize) {
        let edges = self.instances.iter().map(|i| i.callees.len()).sum();
        (self.services.len(), edges)
    }

    fn instance(&mut self, service: u32, cluster: u32) -> u32 {
        let k = key2(
            tag::NAME,
            &self.services[service as usize].name,
            &self.clusters[cluster as usize],
        );
        if let Some(&i) = self.instance_by_key.get(&k) {
            return i;
        }
        let i = u32::try_from(self.instances.len()).expect("fewer than 2^32 instances");
        self.instance_keys.push(k);
        self.instances.push(Instance {
            service,
            cluster,
            callees: Vec::new(),
            callers: Vec::new(),
            hosts: Vec::new(),
        });
        self.instance_by_key.insert(k, i);
        i
    }

    fn cluster(&mut self, name: &str) -> u32 {
        if let Some(&c) = self.cluster_by_name.get(name) {
            return c;
        }
        let c = u32::try_from(self.clusters.len()).expect("fewer than 2^32 clusters");
        self.clusters.push(name.to_owned());
        self.cluster_by_name.insert(name.to_owned(), c);
        c
    }

    fn call(&mut self, from: u32, to: u32) {
        if from == to || self.instances[from as usize].callees.contains(&to) {
            return;
        }
        self.instances[from as usize].callees.push(to);
        self.instances[to as usize].callers.push(from);
    }

    /// The service-level edge `caller → callee` as instance edges: an instance calls the
    /// callee in its own cluster, else in the callee's home cluster.
    fn service_edge(&mut self, caller: u32, callee: u32) {
        let callee_clusters = self.services[callee as usize].clusters.clone();
        for c in self.services[caller as usize].clusters.clone() {
            let target = if callee_clusters.contains(&c) || callee_clusters.is_empty() {
                c
            } else {
                callee_clusters[0]
            };
            let from = self.instance(caller, c);
            let to = self.instance(callee, target);
            self.call(from, to);
        }
    }

    fn instance_of(&self, service: &str, cluster: &str) -> Option<u32> {
        self.instance_by_key
            .get(&key2(tag::NAME, service, cluster))
            .copied()
    }

    pub(crate) fn callees(&self, i: u32) -> &[u32] {
        &self.instances[i as usize].callees
    }

    pub(crate) fn callers(&self, i: u32) -> &[u32] {
        &self.instances[i as usize].callers
    }

    /// The index key of an instance (the same as an alert placed there by its labels).
    pub(crate) fn instance_key(&self, i: u32) -> u64 {
        self.instance_keys[i as usize]
    }

    pub(crate) fn instance_hosts(&self, i: u32) -> &[String] {
        &self.instances[i as usize].hosts
    }

    pub(crate) fn host_instances(&self, host: &str) -> &[u32] {
        self.host_instances.get(host).map_or(&[], Vec::as_slice)
    }

    fn instance_name(&self, i: u32) -> String {
        let inst = &self.instances[i as usize];
        format!(
            "{}@{}",
            self.services[inst.service as usize].name, self.clusters[inst.cluster as usize]
        )
    }
}

/// Parses a topology document; unknown keys are ignored; returns every error at once.
pub fn parse_topology(text: &str) -> Result<Topology, Vec<TopologyError>> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| vec![TopologyError::Json(e.to_string())])?;
    let Some(doc) = doc.as_object() else {
        return Err(vec![invalid("(document)", "expected a JSON object")]);
    };
    let mut t = Topology::default();
    let mut errors = Vec::new();

    for (ci, c) in array(doc.get("clusters"), "clusters", &mut errors)
        .iter()
        .enumerate()
    {
        let path = format!("clusters[{ci}]");
        let Some(name) = string_field(c, "name", &path, &mut errors) else {
            continue;
        };
        let cluster = t.cluster(name);
        for (ni, n) in array(c.get("nodes"), &format!("{path}.nodes"), &mut errors)
            .iter()
            .enumerate()
        {
            match n.as_str() {
                Some(n) => {
                    t.host_cluster.insert(n.to_owned(), cluster);
                }
                None => errors.push(invalid(format!("{path}.nodes[{ni}]"), "expected a string")),
            }
        }
    }

    // Services first (names and deployments), then their dependencies, which may name services
    // declared later.
    let services = array(doc.get("services"), "services", &mut errors);
    let mut first_at: BTreeMap<String, usize> = BTreeMap::new();
    let mut declared: Vec<Option<u32>> = Vec::with_capacity(services.len());
    for (si, s) in services.iter().enumerate() {
        let path = format!("services[{si}]");
        let Some(name) = string_field(s, "name", &path, &mut errors) else {
            declared.push(None);
            continue;
        };
        if let Some(first) = first_at.get(name) {
            errors.push(invalid(
                format!("{path}.name"),
                format!("duplicate service `{name}` (also services[{first}])"),
            ));
            declared.push(None);
            continue;
        }
        first_at.insert(name.to_owned(), si);
        let namespace = match s.get("namespace") {
            None | Some(Value::Null) => None,
            Some(Value::String(ns)) => Some(ns.clone()),
            Some(_) => {
                errors.push(invalid(format!("{path}.namespace"), "expected a string"));
                None
            }
        };
        let id = u32::try_from(t.services.len()).expect("fewer than 2^32 services");
        t.services.push(Service {
            name: name.to_owned(),
            namespace,
            clusters: Vec::new(),
        });
        t.service_by_name.insert(name.to_owned(), id);
        declared.push(Some(id));
        let deployments = array(
            s.get("deployments"),
            &format!("{path}.deployments"),
            &mut errors,
        );
        for (di, d) in deployments.iter().enumerate() {
            let dpath = format!("{path}.deployments[{di}]");
            let Some(cluster) = string_field(d, "cluster", &dpath, &mut errors) else {
                continue;
            };
            let c = t.cluster(cluster);
            if !t.services[id as usize].clusters.contains(&c) {
                t.services[id as usize].clusters.push(c);
            }
            let inst = t.instance(id, c);
            for (hi, h) in array(d.get("hosts"), &format!("{dpath}.hosts"), &mut errors)
                .iter()
                .enumerate()
            {
                let Some(h) = h.as_str() else {
                    errors.push(invalid(format!("{dpath}.hosts[{hi}]"), "expected a string"));
                    continue;
                };
                t.host_cluster.entry(h.to_owned()).or_insert(c);
                t.instances[inst as usize].hosts.push(h.to_owned());
                let on = t.host_instances.entry(h.to_owned()).or_default();
                if let Err(at) = on.binary_search(&inst) {
                    on.insert(at, inst);
                }
            }
        }
    }

    let lookup = |t: &Topology, name: &str, path: &str, errors: &mut Vec<TopologyError>| {
        let found = t.service_by_name.get(name).copied();
        if found.is_none() {
            errors.push(invalid(path, format!("unknown service `{name}`")));
        }
        found
    };
    let mut service_edges = Vec::new();
    for (si, s) in services.iter().enumerate() {
        let Some(caller) = declared[si] else { continue };
        let path = format!("services[{si}].depends_on");
        for (di, d) in array(s.get("depends_on"), &path, &mut errors)
            .iter()
            .enumerate()
        {
            let dpath = format!("{path}[{di}]");
            match d.as_str() {
                Some(name) => {
                    if let Some(callee) = lookup(&t, name, &dpath, &mut errors) {
                        service_edges.push((caller, callee));
                    }
                }
                None => errors.push(invalid(dpath, "expected a service name")),
            }
        }
    }
    for (ei, e) in array(doc.get("edges"), "edges", &mut errors)
        .iter()
        .enumerate()
    {
        let path = format!("edges[{ei}]");
        let Some((from, to)) = pair(e, &path, &mut errors) else {
            continue;
        };
        let from = lookup(&t, from, &format!("{path}[0]"), &mut errors);
        let to = lookup(&t, to, &format!("{path}[1]"), &mut errors);
        if let (Some(from), Some(to)) = (from, to) {
            service_edges.push((from, to));
        }
    }
    for (caller, callee) in service_edges {
        t.service_edge(caller, callee);
    }
    for (ri, r) in array(doc.get("routes"), "routes", &mut errors)
        .iter()
        .enumerate()
    {
        let path = format!("routes[{ri}]");
        let Some((from, to)) = pair(r, &path, &mut errors) else {
            continue;
        };
        let mut ends = [None, None];
        for (side, text) in [from, to].into_iter().enumerate() {
            let spath = format!("{path}[{side}]");
            let Some((service, cluster)) = text
                .split_once('@')
                .filter(|(s, c)| !s.is_empty() && !c.is_empty())
            else {
                errors.push(invalid(
                    spath,
                    format!("expected `service@cluster`, got `{text}`"),
                ));
                continue;
            };
            if let Some(s) = lookup(&t, service, &spath, &mut errors) {
                let c = t.cluster(cluster);
                ends[side] = Some(t.instance(s, c));
            }
        }
        if let [Some(from), Some(to)] = ends {
            t.call(from, to);
        }
    }
    for inst in &mut t.instances {
        inst.callees.sort_unstable();
        inst.callers.sort_unstable();
    }
    if errors.is_empty() {
        Ok(t)
    } else {
        Err(errors)
    }
}

fn array<'a>(v: Option<&'a Value>, path: &str, errors: &mut Vec<TopologyError>) -> &'a [Value] {
    match v {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) => a,
        Some(_) => {
            errors.push(invalid(path, "expected an array"));
            &[]
        }
    }
}

fn string_field<'a>(
    v: &'a Value,
    field: &str,
    path: &str,
    errors: &mut Vec<TopologyError>,
) -> Option<&'a str> {
    match v.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(_) => {
            errors.push(invalid(
                format!("{path}.{field}"),
                "expected a non-empty string",
            ));
            None
        }
        None if v.is_object() => {
            errors.push(invalid(format!("{path}.{field}"), "required"));
            None
        }
        None => {
            errors.push(invalid(path, "expected an object"));
            None
        }
    }
}

fn pair<'a>(
    v: &'a Value,
    path: &str,
    errors: &mut Vec<TopologyError>,
) -> Option<(&'a str, &'a str)> {
    match v.as_array().map(Vec::as_slice) {
        Some([Value::String(a), Value::String(b)]) => Some((a, b)),
        _ => {
            errors.push(invalid(path, "expected a pair of strings"));
            None
        }
    }
}

/// Where an alert sits, from its labels `service`, `cluster`, `host` (or `node`, or the host
/// part of `instance`), `namespace`, `pod` and `upstream`, completed from the topology.
#[derive(Debug, Clone, Default)]
pub(crate) struct Place {
    /// The names below, one after the other (one allocation per alert).
    text: Box<str>,
    /// (start, end) in `text` of service, cluster, host, namespace, pod, upstream; empty when
    /// absent.
    spans: [(u32, u32); 6],
    /// The topology instance (service in cluster), when the document knows it.
    pub instance: Option<u32>,
    /// Name keys of the above (0 when absent), so relating two places compares numbers.
    pub keys: PlaceKeys,
}

/// `key(NAME, name)` of each part of a place, 0 when absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PlaceKeys {
    pub service: u64,
    pub cluster: u64,
    pub host: u64,
    pub namespace: u64,
    pub pod: u64,
    pub upstream: u64,
}

impl Place {
    fn part(&self, i: usize) -> Option<&str> {
        let (a, b) = self.spans[i];
        (b > a).then(|| &self.text[a as usize..b as usize])
    }

    pub(crate) fn service(&self) -> Option<&str> {
        self.part(0)
    }

    pub(crate) fn cluster(&self) -> Option<&str> {
        self.part(1)
    }

    pub(crate) fn host(&self) -> Option<&str> {
        self.part(2)
    }

    pub(crate) fn namespace(&self) -> Option<&str> {
        self.part(3)
    }

    pub(crate) fn pod(&self) -> Option<&str> {
        self.part(4)
    }

    pub(crate) fn upstream(&self) -> Option<&str> {
        self.part(5)
    }

    pub(crate) fn of<'a>(
        labels: &'a BTreeMap<String, String>,
        topology: Option<&'a Topology>,
    ) -> Place {
        // One pass over the labels: host, node, instance, pod, service, cluster, namespace,
        // upstream.
        let mut found: [Option<&str>; 8] = [None; 8];
        for (name, value) in labels {
            let slot = match name.as_str() {
                "host" => 0,
                "node" => 1,
                "instance" => 2,
                "pod" => 3,
                "service" => 4,
                "cluster" => 5,
                "namespace" => 6,
                "upstream" => 7,
                _ => continue,
            };
            found[slot] = Some(value.trim()).filter(|v| !v.is_empty());
        }
        let [host, node, instance_label, pod, mut service, mut cluster, mut namespace, upstream] =
            found;
        let host = host.or(node).or_else(|| {
            instance_label.map(|i| match i.rsplit_once(':') {
                Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
                _ => i,
            })
        });
        let mut instance = None;
        if let Some(t) = topology {
            if service.is_none() {
                service = pod.and_then(|p| service_of_pod(t, p));
            }
            if cluster.is_none() {
                cluster = host
                    .and_then(|h| t.host_cluster.get(h))
                    .or_else(|| {
                        let s = t.service_by_name.get(service?)?;
                        match t.services[*s as usize].clusters.as_slice() {
                            [only] => Some(only),
                            _ => None,
                        }
                    })
                    .map(|&c| t.clusters[c as usize].as_str());
            }
            if let (Some(s), Some(c)) = (service, cluster) {
                instance = t.instance_of(s, c);
            }
            if namespace.is_none() {
                namespace = service
                    .and_then(|s| t.service_by_name.get(s))
                    .and_then(|&s| t.services[s as usize].namespace.as_deref());
            }
        }
        let k = |s: Option<&str>| s.map_or(0, |s| key(tag::NAME, s));
        let keys = PlaceKeys {
            service: k(service),
            cluster: k(cluster),
            host: k(host),
            namespace: k(namespace),
            pod: k(pod),
            upstream: k(upstream),
        };
        let parts = [service, cluster, host, namespace, pod, upstream];
        let mut text = String::with_capacity(parts.iter().flatten().map(|p| p.len()).sum());
        let mut spans = [(0u32, 0u32); 6];
        for (span, part) in spans.iter_mut().zip(parts) {
            let start = text.len();
            text.push_str(part.unwrap_or(""));
            *span = (start as u32, text.len() as u32);
        }
        Place {
            text: text.into_boxed_str(),
            spans,
            instance,
            keys,
        }
    }

    fn instance_name(&self) -> String {
        match (self.service(), self.cluster()) {
            (Some(s), Some(c)) => format!("{s}@{c}"),
            (Some(s), None) => s.to_string(),
            _ => "?".to_owned(),
        }
    }
}

/// The longest service name that, followed by `-`, starts the pod name.
fn service_of_pod<'a>(t: &'a Topology, pod: &str) -> Option<&'a str> {
    let mut end = pod.len();
    while let Some(dash) = pod[..end].rfind('-') {
        if let Some(&s) = t.service_by_name.get(&pod[..dash]) {
            return Some(&t.services[s as usize].name);
        }
        end = dash;
    }
    None
}

/// How two alerts' places are related, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Relation {
    SamePod,
    SameInstance,
    Upstream,
    /// The new alert's component calls the earlier alert's (failures travel to callers).
    Calls,
    SameHost,
    /// The new alert's component is called by the earlier alert's: the reverse of a cascade.
    CalledBy,
    /// Two different services on one host (pods sharing a node): weaker than a host alert.
    SameNode,
    RunsOn,
    SameNamespace,
    SharedCallee,
    TwoHops,
}

impl Relation {
    /// The evidence strength of the relation between a new alert and one that started `dt_ms`
    /// before it, in [0, 1]: a callee failing well after its caller did is not how failures
    /// travel, so that relation weakens after two minutes.
    pub fn score_after(self, dt_ms: i64) -> f64 {
        match self {
            Relation::CalledBy if dt_ms > 120_000 => 0.35,
            r => r.score(),
        }
    }

    /// The evidence strength of the relation, in [0, 1].
    pub fn score(self) -> f64 {
        match self {
            Relation::SamePod => 1.0,
            Relation::SameInstance => 0.9,
            Relation::Upstream => 0.9,
            Relation::Calls => 0.85,
            Relation::SameHost => 0.75,
            Relation::CalledBy => 0.6,
            Relation::SameNode => 0.4,
            Relation::RunsOn => 0.6,
            Relation::SameNamespace => 0.5,
            Relation::SharedCallee => 0.35,
            Relation::TwoHops => 0.3,
        }
    }
}

fn same(a: u64, b: u64) -> bool {
    a != 0 && a == b
}

/// Whether two places are in different known clusters.
pub(crate) fn other_cluster(a: &Place, b: &Place) -> bool {
    a.keys.cluster != 0 && b.keys.cluster != 0 && a.keys.cluster != b.keys.cluster
}

fn intersects(a: &[u32], b: &[u32]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// The strongest relation between the places of a new alert `a` and an earlier alert `b`.
pub(crate) fn relate(t: Option<&Topology>, a: &Place, b: &Place) -> Option<Relation> {
    let clusters_agree = !other_cluster(a, b);
    if same(a.keys.pod, b.keys.pod) && clusters_agree {
        return Some(Relation::SamePod);
    }
    if same(a.keys.service, b.keys.service) && clusters_agree {
        return Some(Relation::SameInstance);
    }
    let upstream = |x: &Place, y: &Place| {
        same(x.keys.upstream, y.keys.service)
            && (clusters_agree
                || match (t, x.instance, y.instance) {
                    (Some(t), Some(xi), Some(yi)) => t.callees(xi).contains(&yi),
                    _ => false,
                })
    };
    if upstream(a, b) || upstream(b, a) {
        return Some(Relation::Upstream);
    }
    let mut called_by = false;
    if let (Some(t), Some(ai), Some(bi)) = (t, a.instance, b.instance) {
        if t.callees(ai).contains(&bi) {
            return Some(Relation::Calls);
        }
        called_by = t.callers(ai).contains(&bi);
    }
    let same_host = same(a.keys.host, b.keys.host) && clusters_agree;
    if same_host && (a.service().is_none() || b.service().is_none()) {
        return Some(Relation::SameHost);
    }
    if called_by {
        return Some(Relation::CalledBy);
    }
    if let Some(t) = t {
        let on = |x: &Place, y: &Place| match (x.host(), y.instance) {
            (Some(h), Some(yi)) if x.service().is_none() => t.host_instances(h).contains(&yi),
            _ => false,
        };
        if on(a, b) || on(b, a) {
            return Some(Relation::RunsOn);
        }
    }
    if same(a.keys.namespace, b.keys.namespace)
        && clusters_agree
        && (a.keys.cluster != 0 || b.keys.cluster != 0)
    {
        return Some(Relation::SameNamespace);
    }
    if same_host {
        return Some(Relation::SameNode);
    }
    if let (Some(t), Some(ai), Some(bi)) = (t, a.instance, b.instance) {
        if intersects(t.callees(ai), t.callees(bi)) {
            return Some(Relation::SharedCallee);
        }
        if intersects(t.callees(ai), t.callers(bi)) || intersects(t.callers(ai), t.callees(bi)) {
            return Some(Relation::TwoHops);
        }
    }
    None
}

/// One line saying how `a` (the new alert) relates to `b`.
pub(crate) fn describe(t: Option<&Topology>, r: Relation, a: &Place, b: &Place) -> String {
    let name = |p: &Place| match (t, p.instance) {
        (Some(t), Some(i)) => t.instance_name(i),
        _ => p.instance_name(),
    };
    let or_q = |s: Option<&str>| s.unwrap_or("?").to_owned();
    match r {
        Relation::SamePod => format!("same pod {}", or_q(a.pod())),
        Relation::SameInstance => format!("same instance {}", name(a)),
        Relation::Upstream => {
            if same(a.keys.upstream, b.keys.service) {
                format!("{} names upstream {}", name(a), name(b))
            } else {
                format!("{} names upstream {}", name(b), name(a))
            }
        }
        Relation::Calls => format!("{} calls {}", name(a), name(b)),
        Relation::CalledBy => format!("{} calls {}", name(b), name(a)),
        Relation::SameHost => format!("same host {}", or_q(a.host())),
        Relation::SameNode => format!("{} and {} share host {}", name(a), name(b), or_q(a.host())),
        Relation::RunsOn => {
            if a.service().is_none() {
                format!("{} runs on host {}", name(b), or_q(a.host()))
            } else {
                format!("{} runs on host {}", name(a), or_q(b.host()))
            }
        }
        Relation::SameNamespace => format!("same namespace {}", or_q(a.namespace())),
        Relation::SharedCallee => format!("{} and {} call the same service", name(a), name(b)),
        Relation::TwoHops => format!("{} and {} are two calls apart", name(a), name(b)),
    }
}

/// Index keys of places related to `p` through the topology (neighbouring instances, the
/// instances on its host, the hosts of its instance), at most `max` of them.
pub(crate) fn neighbour_keys(t: &Topology, p: &Place, out: &mut Vec<u64>, max: usize) {
    let start = out.len();
    let push = |k: u64, out: &mut Vec<u64>| {
        if out.len() - start < max {
            out.push(k);
        }
    };
    if let Some(i) = p.instance {
        for &n in t.callees(i).iter().chain(t.callers(i)) {
            push(t.instance_key(n), out);
        }
        for h in t.instance_hosts(i).iter().take(4) {
            push(key(tag::NAME, h), out);
        }
        // Co-callers of a callee, and callers' callers: two hops.
        for &n in t.callees(i) {
            for &m in t.callers(n).iter().filter(|&&m| m != i).take(4) {
                push(t.instance_key(m), out);
            }
        }
        for &n in t.callers(i) {
            for &m in t.callers(n).iter().take(2) {
                push(t.instance_key(m), out);
            }
        }
    }
    if p.service().is_none() {
        if let Some(h) = p.host() {
            for &n in t.host_instances(h) {
                push(t.instance_key(n), out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
      "clusters": [{"name": "prod-euw1", "region": "eu-west-1", "nodes": ["ip-10-1-0-227"]},
                   {"name": "prod-use1", "nodes": ["ip-10-2-0-5"]}],
      "services": [
        {"name": "orders-api", "tier": "api", "namespace": "orders",
         "depends_on": ["pg-orders", "redis-cart"],
         "deployments": [{"cluster": "prod-euw1", "hosts": ["ip-10-1-0-227"]},
                         {"cluster": "prod-use1", "hosts": ["ip-10-2-0-5"]}]},
        {"name": "pg-orders", "deployments": [{"cluster": "prod-euw1", "hosts": ["pg-orders-euw1-01"]}]},
        {"name": "redis-cart", "deployments": [{"cluster": "prod-euw1"}, {"cluster": "prod-use1"}]},
        {"name": "frontend", "deployments": [{"cluster": "prod-euw1"}]}
      ],
      "edges": [["frontend", "orders-api"]],
      "routes": [["frontend@prod-euw1", "orders-api@prod-use1"]]
    }"#;

    fn place(t: &Topology, pairs: &[(&str, &str)]) -> Place {
        let labels = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Place::of(&labels, Some(t))
    }

    #[test]
    fn callers_reach_callees_in_their_cluster_else_in_the_home_cluster() {
        let t = parse_topology(DOC).expect("valid");
        let inst = |s, c| t.instance_of(s, c).expect("instance");
        let use1_orders = inst("orders-api", "prod-use1");
        // pg-orders runs only in prod-euw1: the prod-use1 instance calls it there.
        assert!(t
            .callees(use1_orders)
            .contains(&inst("pg-orders", "prod-euw1")));
        // redis-cart runs in both: each instance calls its own cluster's.
        assert!(t
            .callees(use1_orders)
            .contains(&inst("redis-cart", "prod-use1")));
        assert!(!t
            .callees(use1_orders)
            .contains(&inst("redis-cart", "prod-euw1")));
        // The explicit route.
        assert!(t
            .callees(inst("frontend", "prod-euw1"))
            .contains(&use1_orders));
    }

    #[test]
    fn every_error_is_reported_with_its_path() {
        let doc = r#"{"services": [
            {"name": "a", "depends_on": ["nope"]},
            {"name": "a"},
            {"name": "b", "depends_on": "a"}],
          "edges": [["a", "ghost"], ["a"]],
          "routes": [["a@x", "b"], ["zzz@x", "a@y"]],
          "whatever": {"ignored": true}}"#;
        let errors: Vec<String> = parse_topology(doc)
            .expect_err("invalid")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "services[1].name: duplicate service `a` (also services[0])",
                "services[0].depends_on[0]: unknown service `nope`",
                "services[2].depends_on: expected an array",
                "edges[0][1]: unknown service `ghost`",
                "edges[1]: expected a pair of strings",
                "routes[0][1]: expected `service@cluster`, got `b`",
                "routes[1][0]: unknown service `zzz`",
            ]
        );
    }

    #[test]
    fn a_cycle_is_fine() {
        let doc = r#"{"services": [{"name": "a", "depends_on": ["b"], "deployments": [{"cluster": "c"}]},
                                   {"name": "b", "depends_on": ["a"], "deployments": [{"cluster": "c"}]}]}"#;
        let t = parse_topology(doc).expect("a cycle is valid");
        assert_eq!(t.size(), (2, 2));
    }

    #[test]
    fn places_relate_as_the_topology_says() {
        let t = parse_topology(DOC).expect("valid");
        let orders = place(&t, &[("service", "orders-api"), ("cluster", "prod-euw1")]);
        let orders_pod = place(
            &t,
            &[
                ("pod", "orders-api-7d9f8b6c4-x2k4p"),
                ("cluster", "prod-euw1"),
            ],
        );
        let pg = place(
            &t,
            &[("service", "pg-orders"), ("host", "pg-orders-euw1-01")],
        );
        let node = place(&t, &[("host", "ip-10-1-0-227")]);
        let frontend = place(&t, &[("service", "frontend"), ("cluster", "prod-euw1")]);
        let use1_redis = place(&t, &[("service", "redis-cart"), ("cluster", "prod-use1")]);
        let euw1_redis = place(&t, &[("service", "redis-cart"), ("cluster", "prod-euw1")]);
        let cases = [
            (&orders_pod, &orders, Some(Relation::SameInstance)),
            (&orders, &pg, Some(Relation::Calls)),
            (&pg, &orders, Some(Relation::CalledBy)),
            (&node, &orders, Some(Relation::RunsOn)),
            (&frontend, &pg, Some(Relation::TwoHops)),
            (&orders, &euw1_redis, Some(Relation::Calls)),
            (&orders, &use1_redis, None),
            (&use1_redis, &euw1_redis, None),
        ];
        for (a, b, want) in cases {
            assert_eq!(relate(Some(&t), a, b), want, "{a:?} / {b:?}");
        }
        assert_eq!(
            describe(Some(&t), Relation::CalledBy, &pg, &orders),
            "orders-api@prod-euw1 calls pg-orders@prod-euw1"
        );
    }

    #[test]
    fn without_a_document_labels_still_place_alerts() {
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let proxy = Place::of(
            &labels(&[("service", "edge"), ("upstream", "orders-api")]),
            None,
        );
        let orders = Place::of(
            &labels(&[("service", "orders-api"), ("instance", "10.0.0.1:8080")]),
            None,
        );
        let same_target = Place::of(
            &labels(&[("job", "x"), ("instance", "10.0.0.1:8080")]),
            None,
        );
        assert_eq!(relate(None, &proxy, &orders), Some(Relation::Upstream));
        assert_eq!(
            relate(None, &same_target, &orders),
            Some(Relation::SameHost)
        );
    }
}
