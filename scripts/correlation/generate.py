#!/usr/bin/env python3
"""Generates a realistic, adversarial Alertmanager alert stream with known incidents.

A service topology over several clusters (Kubernetes-style labels), cascading failures that
spread hop by hop to the callers of the failing instance, several independent incidents at
once in different clusters, flapping, periodic and one-off noise next to (never inside)
incidents, annotation texts with per-firing numbers and ids, and resolutions.

Writes DIR/alerts.ndjson (one postable alert per line, each with a `key`; a resolution repeats
its alert's labels, startsAt and key with endsAt), DIR/topology.json and DIR/truth.json
({"groups": [[keys...], ...], "kinds": [...]}: every incident, every recurring label set's
firings, and every one-off alert as a group of one).

Usage: generate.py --seed N [--alerts 5000] [--hours 24] --out DIR
                   [--labels full|few] [--vocab default|alt]
Standard library only.
"""

import argparse
import json
import math
import os
import random
import uuid
from datetime import datetime, timezone

BASE_MS = 1_772_409_600_000  # 2026-03-02T00:00:00Z
MIN = 60_000
HOUR = 60 * MIN

# ---------------------------------------------------------------------------------------------
# Vocabularies: service names per tier, alert names per role, and annotation templates.

VOCABS = {
    "default": {
        "clusters": ["prod-euw1", "prod-use1", "prod-apse1", "prod-euc1", "prod-usw2"],
        "node": "ip-10-{c}-{a}-{b}",
        "edge": ["frontend", "api-gateway", "mobile-bff", "partner-gateway"],
        "api": [d + "-api" for d in [
            "orders", "cart", "payments", "users", "search", "inventory", "shipping", "catalog",
            "pricing", "reviews", "recommendations", "notifications", "accounts", "auth",
            "loyalty", "returns", "fraud", "tax", "media", "checkout", "wishlist", "promotions",
            "invoices", "subscriptions"]],
        "worker": ["orders-worker", "email-worker", "billing-worker", "search-indexer",
                   "media-transcoder", "fraud-scorer", "export-worker", "sync-worker"],
        "data": ["pg-orders", "pg-users", "pg-payments", "pg-accounts", "pg-inventory",
                 "redis-cart", "redis-session", "redis-ratelimit", "kafka-events", "kafka-audit",
                 "es-search", "es-logs", "mongo-catalog", "rabbitmq-jobs"],
        "alerts": {
            "svc": ["HighErrorRate", "HighLatency", "SLOBurnRateHigh", "HTTP5xxSpike"],
            "pod": ["KubePodCrashLooping", "KubePodNotReady", "ContainerOOMKilled", "TargetDown"],
            "deploy": ["KubeDeploymentReplicasMismatch", "KubeDeploymentRolloutStuck"],
            "node": ["NodeDiskPressure", "NodeNotReady", "NodeMemoryPressure",
                     "NodeFilesystemAlmostFull", "NodeHighCPU", "NodeNetworkErrors"],
            "pg": ["PostgresReplicationLag", "PostgresTooManyConnections", "PostgresDown",
                   "PostgresSlowQueries", "PostgresDeadlocks"],
            "redis": ["RedisDown", "RedisMemoryHigh", "RedisRejectedConnections"],
            "kafka": ["KafkaConsumerLag", "KafkaUnderReplicatedPartitions", "KafkaBrokerDown"],
            "es": ["ElasticsearchClusterRed", "ElasticsearchHeapHigh"],
            "mongo": ["MongoReplicaSetLag", "MongoDown"],
            "rabbitmq": ["RabbitMQQueueBacklog", "RabbitMQDown"],
            "proxy": ["UpstreamErrors", "UpstreamLatencyHigh"],
            "cron": ["CronJobFailed", "BackupJobFailed", "CertificateExpiringSoon",
                     "KubeJobSlow"],
        },
        "texts": {
            "HighErrorRate": ("High error rate on {service}",
                              "{service} in {cluster} answers {pct}% of requests with 5xx over 5m (request_id={uuid})"),
            "HighLatency": ("High latency on {service}",
                            "p99 latency of {service} is {ms}ms, above 500ms for 10m (trace {hex})"),
            "SLOBurnRateHigh": ("{service} is burning its error budget",
                                "Error budget of {service} burns {x}x faster than allowed over 1h"),
            "HTTP5xxSpike": ("Spike of 5xx responses from {service}",
                             "{n} responses with status 503 from {service} in the last minute"),
            "KubePodCrashLooping": ("Pod {namespace}/{pod} is crash looping",
                                    "Pod {pod} ({container}) restarted {n} times in 10 minutes, last exit code {code}"),
            "KubePodNotReady": ("Pod {namespace}/{pod} is not ready",
                                "Pod {pod} on {host} has been in a non-ready state for longer than {n} minutes"),
            "ContainerOOMKilled": ("Container {container} was OOM killed",
                                   "Container {container} in pod {pod} was killed at {mib}MiB of memory"),
            "TargetDown": ("Target {instance} of {job} is down",
                           "{pct}% of the {job} targets in {namespace} are down, last scrape error at {ip}"),
            "KubeDeploymentReplicasMismatch": ("Deployment {namespace}/{service} replicas mismatch",
                                               "Deployment {service} has {n} of {m} replicas available for 15m"),
            "KubeDeploymentRolloutStuck": ("Rollout of {service} is stuck",
                                           "Rollout of {service} revision {n} has not progressed for 15m"),
            "NodeDiskPressure": ("Node {host} has disk pressure",
                                 "{pct}% of /var/lib/kubelet used on {host} ({ip})"),
            "NodeNotReady": ("Node {host} is not ready",
                             "Kubelet on {host} stopped posting status {n}s ago"),
            "NodeMemoryPressure": ("Node {host} has memory pressure",
                                   "{pct}% of memory used on {host}, {n} pods evicted"),
            "NodeFilesystemAlmostFull": ("Filesystem almost full on {host}",
                                         "Filesystem /dev/nvme0n1p{n} on {host} has {pct}% space left"),
            "NodeHighCPU": ("High CPU on {host}", "CPU usage on {host} is {pct}% for 15m"),
            "NodeNetworkErrors": ("Network errors on {host}",
                                  "Interface eth0 on {host} reports {n} receive errors per second"),
            "PostgresReplicationLag": ("Replication lag on {service}",
                                       "Replica {host} of {service} is {n}s behind the primary (lsn {hex})"),
            "PostgresTooManyConnections": ("Too many connections to {service}",
                                           "{service} uses {pct}% of max_connections ({n} connections)"),
            "PostgresDown": ("{service} is down", "Postgres on {host}:5432 does not answer ({ip})"),
            "PostgresSlowQueries": ("Slow queries on {service}",
                                    "{n} queries on {service} took longer than {ms}ms (queryid {hex})"),
            "PostgresDeadlocks": ("Deadlocks on {service}", "{n} deadlocks on {service} in the last 5m"),
            "RedisDown": ("{service} is down", "Redis {host}:6379 is unreachable ({ip})"),
            "RedisMemoryHigh": ("{service} memory high", "{service} uses {pct}% of maxmemory"),
            "RedisRejectedConnections": ("{service} rejects connections",
                                         "{n} connections rejected by {service} in 1m"),
            "KafkaConsumerLag": ("Consumer lag on {service}",
                                 "Consumer group {group} lags {n} messages on topic events-{n2}"),
            "KafkaUnderReplicatedPartitions": ("Under-replicated partitions on {service}",
                                               "{n} partitions of {service} are under-replicated"),
            "KafkaBrokerDown": ("Kafka broker down on {service}", "Broker {host} is not in the ISR for {n}s"),
            "ElasticsearchClusterRed": ("{service} cluster is red", "{n} primary shards of {service} are unassigned"),
            "ElasticsearchHeapHigh": ("{service} heap high", "JVM heap of {host} at {pct}%"),
            "MongoReplicaSetLag": ("{service} replica lag", "Secondary {host} is {n}s behind"),
            "MongoDown": ("{service} is down", "mongod on {host}:27017 is unreachable ({ip})"),
            "RabbitMQQueueBacklog": ("Queue backlog on {service}", "Queue jobs-{n2} holds {n} messages"),
            "RabbitMQDown": ("{service} is down", "RabbitMQ node {host} is down ({ip})"),
            "UpstreamErrors": ("{service} sees errors from {upstream}",
                               "{pct}% of requests from {service} to {upstream} failed with 502 (x-request-id {uuid})"),
            "UpstreamLatencyHigh": ("Slow upstream {upstream}",
                                    "Requests from {service} to {upstream} take {ms}ms at p95"),
            "CronJobFailed": ("CronJob {namespace}/{service}-cleanup failed",
                              "Job {service}-cleanup-{n} failed after {n2} attempts"),
            "BackupJobFailed": ("Backup of {service} failed", "Backup run {hex} of {service} exited with code {code}"),
            "CertificateExpiringSoon": ("Certificate of {service} expires soon",
                                        "Certificate serial {hex} of {service} expires in {n} days"),
            "KubeJobSlow": ("Job in {namespace} is slow", "Job {service}-report-{n} has run for {n2} minutes"),
        },
        "mention": [" - calls to {callee} failing: {err}", " (upstream {callee}: {err})",
                    "; dependency {callee} timing out after {ms}ms"],
        "errors": ["connection refused", "i/o timeout", "too many connections",
                   "503 Service Unavailable", "context deadline exceeded", "connection reset by peer"],
    },
}

# The alternative vocabulary: other names, other alert names, other wording.
ALT = json.loads(json.dumps(VOCABS["default"]))
ALT.update({
    "clusters": ["dc-ams-1", "dc-fra-2", "gke-us-central1", "aks-westeu", "dc-sin-1"],
    "node": "node-{c}{a}{b}.infra.local",
    "edge": ["web", "edge-proxy", "graphql", "b2b-portal"],
    "api": [d + "-svc" for d in [
        "checkout", "basket", "ledger", "profile", "query", "stock", "delivery", "products",
        "quotes", "ratings", "suggest", "push", "identity", "session", "rewards", "refunds",
        "risk", "vat", "assets", "booking", "favourites", "coupons", "statements", "plans"]],
    "worker": ["settlement-job", "mailer", "invoicer", "crawler", "thumbnailer", "scorer",
               "exporter", "replicator"],
    "data": ["mysql-ledger", "mysql-profile", "cockroach-payments", "mysql-identity",
             "mysql-stock", "memcached-basket", "memcached-sessions", "memcached-quota",
             "nats-events", "nats-audit", "solr-products", "solr-logs", "cassandra-catalog",
             "sqs-jobs"],
})
ALT["alerts"] = {
    "svc": ["ServiceErrorBudgetBurn", "ApiP99LatencyHigh", "RequestFailuresElevated", "Http503Rate"],
    "pod": ["ContainerRestartingOften", "PodUnhealthy", "MemoryLimitKill", "ProbeFailed"],
    "deploy": ["ReplicaSetDegraded", "DeployNotProgressing"],
    "node": ["DiskSpaceLow", "HostUnreachable", "HostSwapping", "InodeExhaustion",
             "HostLoadHigh", "NicPacketDrops"],
    "pg": ["MySQLReplicaLagging", "DbConnectionPoolExhausted", "DatabaseUnavailable",
           "SlowQueryLogGrowing", "LockWaitTimeouts"],
    "redis": ["CacheUnavailable", "CacheEvictionsHigh", "CacheConnRefused"],
    "kafka": ["StreamConsumerBehind", "StreamReplicationDegraded", "StreamServerDown"],
    "es": ["SearchIndexUnhealthy", "SearchGcPressure"],
    "mongo": ["WideColumnReadLatency", "WideColumnNodeDown"],
    "rabbitmq": ["QueueDepthGrowing", "QueueServiceDown"],
    "proxy": ["BackendFailing", "BackendSlow"],
    "cron": ["ScheduledTaskFailed", "SnapshotFailed", "TlsCertRenewalDue", "BatchOverrun"],
}
old_texts = VOCABS["default"]["texts"]
ALT["texts"] = {}
for role, names in VOCABS["default"]["alerts"].items():
    for old, new in zip(names, ALT["alerts"][role]):
        summary, desc = old_texts[old]
        ALT["texts"][new] = ("[{cluster}] " + summary.replace("on {", "for {").replace("is ", "looks "),
                             "Observed: " + desc.replace("over", "during").replace("in the last", "within the past"))
ALT["mention"] = [" -- dependency {callee} unhealthy: {err}", " [backend {callee} said: {err}]"]
VOCABS["alt"] = ALT

DATA_ROLE = {"pg": "pg", "mysql": "pg", "cockroach": "pg", "redis": "redis", "memcached": "redis",
             "kafka": "kafka", "nats": "kafka", "es": "es", "solr": "es", "mongo": "mongo",
             "cassandra": "mongo", "rabbitmq": "rabbitmq", "sqs": "rabbitmq"}


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        "%03dZ" % (ms % 1000)


class World:
    """Clusters, nodes, services, deployments and the instance-level call graph."""

    def __init__(self, rng, vocab):
        self.rng = rng
        self.v = vocab
        self.clusters = list(vocab["clusters"])
        self.nodes = {}
        for ci, c in enumerate(self.clusters):
            n = rng.randint(10, 16)
            self.nodes[c] = [vocab["node"].format(c=ci + 1, a=rng.randint(0, 15), b=rng.randint(1, 254))
                             for _ in range(n)]
            self.nodes[c] = sorted(set(self.nodes[c]))
        self.services = {}
        order = []
        for tier in ["data", "worker", "api", "edge"]:
            for s in vocab[tier]:
                order.append((tier, s))
        namespaces = {}
        for tier, s in order:
            stem = s.split("-")[0] if tier != "data" else s.split("-", 1)[-1].split("-")[0]
            ns = namespaces.setdefault(stem, stem if tier != "edge" else "edge")
            # Most services run in most clusters; some only in a few, so some calls cross
            # clusters (to the callee's home cluster).
            if tier == "data":
                ncl = rng.choice([1, 2, 3, 4, 5, 5])
            elif tier == "edge":
                ncl = rng.choice([4, 5])
            else:
                ncl = rng.choice([2, 3, 4, 5, 5])
            clusters = rng.sample(self.clusters, ncl)
            self.services[s] = {"tier": tier, "namespace": ns, "team": "team-" + ns,
                                "clusters": clusters, "deps": []}
        data = [s for t, s in order if t == "data"]
        workers = [s for t, s in order if t == "worker"]
        apis = [s for t, s in order if t == "api"]
        edges = [s for t, s in order if t == "edge"]
        for i, s in enumerate(apis):
            deps = rng.sample(data, rng.randint(1, 2))
            deps += rng.sample(apis[:i], min(i, rng.randint(0, 2)))
            self.services[s]["deps"] = deps
        for s in workers:
            self.services[s]["deps"] = rng.sample(data, rng.randint(1, 2)) + rng.sample(apis, 1)
        for s in edges:
            self.services[s]["deps"] = rng.sample(apis, rng.randint(3, 6))
        # Instances: pods on nodes, data services on dedicated hosts.
        self.instances = {}
        for s, info in self.services.items():
            for c in info["clusters"]:
                inst = {"service": s, "cluster": c, "pods": [], "hosts": []}
                if info["tier"] == "data":
                    short = c.split("-")[-1] if "-" in c else c
                    inst["hosts"] = ["%s-%s-%02d" % (s, short, k + 1) for k in range(rng.randint(1, 3))]
                    inst["pods"] = [(h, h) for h in inst["hosts"]]
                else:
                    for _ in range(rng.randint(2, 4)):
                        pod = "%s-%s-%s" % (s, rnd_hex(rng, 9), rnd_alnum(rng, 5))
                        inst["pods"].append((pod, rng.choice(self.nodes[c])))
                    inst["hosts"] = sorted({h for _, h in inst["pods"]})
                self.instances[(s, c)] = inst
        # Instance call graph: in the caller's cluster, else the callee's home cluster.
        self.callees = {k: [] for k in self.instances}
        self.callers = {k: [] for k in self.instances}
        for (s, c) in sorted(self.instances):
            for d in self.services[s]["deps"]:
                dc = c if c in self.services[d]["clusters"] else self.services[d]["clusters"][0]
                self.callees[(s, c)].append((d, dc))
                self.callers[(d, dc)].append((s, c))
        self.on_node = {}
        for k, inst in sorted(self.instances.items()):
            for pod, h in inst["pods"]:
                self.on_node.setdefault(h, []).append((k, pod))

    def topology(self):
        return {
            "clusters": [{"name": c, "nodes": self.nodes[c]} for c in self.clusters],
            "services": [{"name": s, "tier": i["tier"], "team": i["team"], "namespace": i["namespace"],
                          "depends_on": i["deps"],
                          "deployments": [{"cluster": c, "hosts": self.instances[(s, c)]["hosts"]}
                                          for c in i["clusters"]]}
                         for s, i in self.services.items()],
        }

    def role(self, service):
        tier = self.services[service]["tier"]
        if tier == "data":
            for prefix, role in DATA_ROLE.items():
                if service.startswith(prefix):
                    return role
        return tier


def rnd_hex(rng, n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def rnd_alnum(rng, n):
    return "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


class Gen:
    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.v = VOCABS[args.vocab]
        self.labels_mode = args.labels
        self.world = World(self.rng, self.v)
        self.span = args.hours * HOUR
        self.target = args.alerts
        self.alerts = []  # dicts: labels, annotations, start, end, group
        self.groups = []  # group kinds, index = group id
        self.reserved = {}  # label-set fingerprint -> group id of noise owning it
        self.busy = {}  # instance -> [(from, to)] while an incident affects it
        self.firing = {}  # label-set fingerprint -> [(start, end)]

    # -- labels and texts -------------------------------------------------------------------

    def labels_for(self, alertname, severity, service=None, cluster=None, pod=None, host=None,
                   upstream=None, job=None):
        w = self.world
        l = {"alertname": alertname, "severity": severity}
        if cluster:
            l["cluster"] = cluster
        if service:
            info = w.services[service]
            l["service"] = service
            l["namespace"] = info["namespace"]
            l["team"] = info["team"]
            l["job"] = job or service
        if pod and pod != host:
            l["pod"] = pod
            l["container"] = service or "main"
            l["instance"] = "10.%d.%d.%d:8080" % (self.rng.randint(0, 255), self.rng.randint(0, 255),
                                                  self.rng.randint(1, 254))
        if host:
            l["host"] = host
            if not pod or pod == host:
                l["instance"] = host + (":9100" if not service else ":9187")
        if upstream:
            l["upstream"] = upstream
        if not service:
            l["job"] = job or "node-exporter"
            l["team"] = "platform"
        l["env"] = "prod"
        l["prometheus"] = "monitoring/k8s"
        if self.labels_mode == "few":
            keep = {"alertname", "severity", "service", "cluster"}
            if not service:
                keep.add("host")
            l = {k: v for k, v in l.items() if k in keep}
        return l

    def text(self, labels, callee=None, service=None, host=None, pod=None, upstream=None,
             cluster=None):
        r = self.rng
        name = labels["alertname"]
        summary, desc = self.v["texts"][name]
        vals = {
            "service": service or labels.get("service", "?"),
            "cluster": cluster or labels.get("cluster", "?"),
            "namespace": self.world.services[service]["namespace"] if service else "kube-system",
            "pod": pod or "?", "container": service or "main", "host": host or "?",
            "instance": labels.get("instance", host or "?"), "job": labels.get("job", "?"),
            "upstream": upstream or "?", "group": (service or "x") + "-consumers",
            "pct": "%.1f" % r.uniform(5, 99), "ms": str(r.randint(300, 9000)),
            "n": str(r.randint(2, 900)), "n2": str(r.randint(1, 60)), "m": str(r.randint(3, 12)),
            "x": "%.1f" % r.uniform(2, 40), "code": str(r.choice([1, 2, 137, 139, 143])),
            "mib": str(r.choice([256, 512, 1024, 2048])),
            "uuid": str(uuid.UUID(int=r.getrandbits(128))), "hex": rnd_hex(r, 12),
            "ip": "10.%d.%d.%d" % (r.randint(0, 255), r.randint(0, 255), r.randint(1, 254)),
        }
        d = desc.format(**vals)
        if callee and r.random() < 0.5:
            d += r.choice(self.v["mention"]).format(callee=callee, err=r.choice(self.v["errors"]),
                                                    ms=r.randint(1000, 30000))
        ann = {"summary": summary.format(**vals), "description": d,
               "runbook_url": "https://runbooks.example.com/%s" % name.lower()}
        return ann

    def is_busy(self, key, t0, t1):
        return any(a < t1 and t0 < b for a, b in self.busy.get(key, []))

    def overlaps(self, labels, start, end):
        end = self.span * 2 if end is None else end
        return any(a < end + MIN and start < b + MIN for a, b in self.firing.get(self.fp(labels), []))

    def add(self, labels, ann, start, end, group):
        f = self.fp(labels)
        self.firing.setdefault(f, []).append((int(start), int(self.span * 2 if end is None else end)))
        self.alerts.append({"labels": labels, "annotations": ann, "start": int(start),
                            "end": None if end is None else int(end), "group": group})

    def fp(self, labels):
        return json.dumps(labels, sort_keys=True)

    # -- incidents --------------------------------------------------------------------------

    def pick_alert(self, role):
        return self.rng.choice(self.v["alerts"][role])

    def instance_alerts(self, key, t, gid, cause=None, root=False, used=None):
        """Alerts of one affected instance starting near t; returns how many were added."""
        r = self.rng
        w = self.world
        s, c = key
        inst = w.instances[key]
        role = w.role(s)
        made = 0
        picks = []
        if role in DATA_ROLE.values():
            picks += [("data", self.pick_alert(role))]
            if r.random() < 0.5:
                picks += [("data", self.pick_alert(role))]
        else:
            if root:
                picks += [("pod", "KubePodCrashLooping" if "KubePodCrashLooping" in self.v["texts"]
                           else self.v["alerts"]["pod"][0])]
                if r.random() < 0.6:
                    picks += [("deploy", self.pick_alert("deploy"))]
            picks += [("svc", self.pick_alert("svc"))]
            if r.random() < 0.7:
                picks += [("svc", self.pick_alert("svc"))]
            if r.random() < 0.6:
                picks += [("pod", self.pick_alert("pod"))]
            if w.services[s]["tier"] == "edge" and cause and r.random() < 0.7:
                picks += [("proxy", self.pick_alert("proxy"))]
        for kind, name in picks:
            sev = r.choice(["critical", "warning"]) if kind != "pod" else "warning"
            if kind == "pod":
                pods = r.sample(inst["pods"], r.randint(1, len(inst["pods"])))
                targets = [(pod, h) for pod, h in pods]
            else:
                targets = [(None, None)]
            for pod, h in targets:
                if kind == "data":
                    h = r.choice(inst["hosts"])
                    pod = h
                up = cause[0] if kind == "proxy" and cause else None
                labels = self.labels_for(name, sev, service=s, cluster=c, pod=pod, host=h, upstream=up)
                f = self.fp(labels)
                if f in self.reserved or f in used:
                    continue
                used.add(f)
                start = t + r.randint(0, 90_000)
                dur = r.randint(4, 70) * MIN
                end = start + dur if r.random() > 0.05 else None
                if self.overlaps(labels, start, end):
                    continue
                ann = self.text(labels, callee=cause[0] if cause else None, service=s, host=h,
                                pod=pod, upstream=up, cluster=c)
                self.add(labels, ann, start, end, gid)
                made += 1
                # Sometimes it fires again within the incident.
                if end is not None and r.random() < 0.08:
                    start2 = end + r.randint(1, 6) * MIN
                    self.add(labels, self.text(labels, service=s, host=h, pod=pod, upstream=up,
                                               cluster=c), start2, start2 + r.randint(3, 20) * MIN, gid)
                    made += 1
        return made

    def incident(self, t0, cluster=None):
        r = self.rng
        w = self.world
        gid = len(self.groups)
        self.groups.append("incident")
        used = set()
        keys = sorted(w.instances)
        if cluster:
            keys = [k for k in keys if k[1] == cluster] or keys
        scenario = r.choices(["data", "deploy", "node", "overload"], [5, 2, 2, 3])[0]
        made = 0
        frontier = []
        if scenario == "node":
            c = cluster or r.choice(w.clusters)
            host = r.choice(sorted(n for n in w.nodes[c] if n in w.on_node) or w.nodes[c])
            for _ in range(r.randint(1, 2)):
                name = self.pick_alert("node")
                labels = self.labels_for(name, "critical", cluster=c, host=host)
                f = self.fp(labels)
                if f in self.reserved or f in used:
                    continue
                used.add(f)
                start = t0 + r.randint(0, 60_000)
                self.add(labels, self.text(labels, host=host, cluster=c), start,
                         start + r.randint(10, 90) * MIN, gid)
                made += 1
            for (key, pod) in w.on_node.get(host, []):
                if self.is_busy(key, t0 - 30 * MIN, t0 + 60 * MIN):
                    continue
                if r.random() < 0.8:
                    name = self.pick_alert("pod")
                    labels = self.labels_for(name, "warning", service=key[0], cluster=key[1], pod=pod, host=host)
                    f = self.fp(labels)
                    if f in self.reserved or f in used:
                        continue
                    used.add(f)
                    start = t0 + r.randint(20_000, 180_000)
                    self.add(labels, self.text(labels, service=key[0], host=host, pod=pod, cluster=key[1]),
                             start, start + r.randint(5, 60) * MIN, gid)
                    made += 1
                    if r.random() < 0.5 and key not in {k for k, _, _ in frontier}:
                        frontier.append((key, start, None))
        else:
            if scenario == "data":
                cands = [k for k in keys if w.services[k[0]]["tier"] == "data" and w.callers[k]]
            elif scenario == "deploy":
                cands = [k for k in keys if w.services[k[0]]["tier"] in ("api", "worker")]
            else:
                cands = [k for k in keys if w.services[k[0]]["tier"] == "api" and w.callers[k]]
            free = [k for k in cands if not self.is_busy(k, t0 - 30 * MIN, t0 + 60 * MIN)]
            if not free:
                return gid, 0, set()
            root = r.choice(free)
            made += self.instance_alerts(root, t0, gid, root=True, used=used)
            frontier.append((root, t0, None))
        # Spread hop by hop to the callers of failing instances.
        seen = {k for k, _, _ in frontier}
        p = 0.95
        hop = 0
        while frontier and hop < 4:
            nxt = []
            for key, t, _ in frontier:
                for caller in w.callers.get(key, []):
                    if caller in seen or r.random() > p:
                        continue
                    delay = int(min(6 * MIN, r.lognormvariate(math.log(60_000), 1.0)))
                    tc = t + max(5_000, delay)
                    if self.is_busy(caller, tc - 30 * MIN, tc + 60 * MIN):
                        continue
                    seen.add(caller)
                    made += self.instance_alerts(caller, tc, gid, cause=key, used=used)
                    nxt.append((caller, tc, key))
            frontier = nxt
            p *= 0.8
            hop += 1
        for key in seen:
            self.busy.setdefault(key, []).append((t0 - 5 * MIN, t0 + 60 * MIN))
        return gid, made, seen

    # -- noise ------------------------------------------------------------------------------

    def noise_place(self, near=None, t0=0, t1=0):
        """A label set for noise: a pod, a service, a node or a data host; next to an incident's
        instances sometimes (a caller, a callee, the same cluster), never on an instance an
        incident affects while the noise goes on."""
        r = self.rng
        w = self.world
        for _ in range(40):
            if near and r.random() < 0.7:
                base = r.choice(sorted(near))
                nbrs = w.callers[base] + w.callees[base] + [k for k in sorted(w.instances) if k[1] == base[1]]
                key = r.choice(nbrs)
            else:
                key = r.choice(sorted(w.instances))
            if t1 <= t0 or not self.is_busy(key, t0 - 10 * MIN, t1 + 10 * MIN):
                break
        s, c = key
        inst = w.instances[key]
        kind = r.choices(["pod", "svc", "node", "data"], [3, 3, 2, 1])[0]
        role = w.role(s)
        if kind == "node":
            host = r.choice(inst["hosts"]) if w.services[s]["tier"] != "data" else r.choice(w.nodes[c])
            return self.labels_for(self.pick_alert("node"), "warning", cluster=c, host=host), {"host": host, "cluster": c}
        if role in DATA_ROLE.values():
            h = r.choice(inst["hosts"])
            return (self.labels_for(self.pick_alert(role), "warning", service=s, cluster=c, pod=h, host=h),
                    {"service": s, "host": h, "pod": h, "cluster": c})
        if kind == "pod":
            pod, h = r.choice(inst["pods"])
            return (self.labels_for(self.pick_alert("pod"), "warning", service=s, cluster=c, pod=pod, host=h),
                    {"service": s, "host": h, "pod": pod, "cluster": c})
        return (self.labels_for(self.pick_alert("svc"), "warning", service=s, cluster=c),
                {"service": s, "cluster": c})

    def flapper(self, budget, incidents):
        r = self.rng
        near = None
        if incidents and r.random() < 0.5:
            near = r.choice(incidents)[2]
        n = min(budget, r.randint(8, 40))
        t = r.randint(0, int(self.span * 0.8))
        plan = []
        for _ in range(n):
            if t > self.span:
                break
            dur = r.randint(1, 8) * MIN + r.randint(0, 59_000)
            plan.append((t, t + dur))
            t += dur + r.randint(3, 40) * MIN
        labels, ctx = self.noise_place(near, plan[0][0], plan[-1][1])
        f = self.fp(labels)
        if f in self.reserved or any(self.overlaps(labels, a, b) for a, b in plan):
            return 0
        gid = len(self.groups)
        self.groups.append("flapping")
        self.reserved[f] = gid
        for a, b in plan:
            self.add(labels, self.text(labels, **ctx), a, b, gid)
        return len(plan)

    def periodic(self, budget, incidents):
        r = self.rng
        labels, ctx = self.noise_place(r.choice(incidents)[2] if incidents and r.random() < 0.5 else None)
        if r.random() < 0.5 and "service" in ctx:
            labels = self.labels_for(self.pick_alert("cron"), "warning", service=ctx["service"],
                                     cluster=ctx["cluster"])
            ctx = {"service": ctx["service"], "cluster": ctx["cluster"]}
        f = self.fp(labels)
        if f in self.reserved or f in self.firing:
            return 0
        gid = len(self.groups)
        self.groups.append("periodic")
        self.reserved[f] = gid
        period = r.choice([10, 15, 20, 30, 60, 120]) * MIN
        t = r.randint(0, int(period))
        made = 0
        while t < self.span and made < budget:
            jitter = r.randint(-20_000, 20_000)
            dur = r.randint(1, min(8, period // MIN - 2)) * MIN
            self.add(labels, self.text(labels, **ctx), t + jitter, t + jitter + dur, gid)
            made += 1
            t += period
        return made

    def one_off(self, incidents):
        r = self.rng
        near = None
        t = r.randint(0, self.span)
        if incidents and r.random() < 0.4:
            inc = r.choice(incidents)
            near = inc[2]
            t = inc[1] + r.randint(0, 20 * MIN)
        end = t + r.randint(2, 60) * MIN
        labels, ctx = self.noise_place(near, t, end)
        f = self.fp(labels)
        if f in self.reserved or self.overlaps(labels, t, end):
            return 0
        gid = len(self.groups)
        self.groups.append("one-off")
        self.reserved[f] = gid
        self.add(labels, self.text(labels, **ctx), t, end, gid)
        return 1

    # -- the whole stream -------------------------------------------------------------------

    def run(self):
        r = self.rng
        w = self.world
        want_incident = int(self.target * 0.61)
        want_flap = int(self.target * 0.26)
        want_periodic = int(self.target * 0.11)
        want_oneoff = self.target - want_incident - want_flap - want_periodic
        incidents = []
        made = 0
        # Waves: several independent incidents at once in different clusters.
        while made < want_incident:
            t = r.randint(0, int(self.span - HOUR))
            k = r.choices([1, 2, 3], [4, 4, 1])[0]
            for cl in r.sample(w.clusters, k):
                gid, n, seen = self.incident(t + r.randint(0, 5 * MIN), cluster=cl)
                incidents.append((gid, t, seen))
                made += n
        made = 0
        while made < want_flap:
            made += self.flapper(want_flap - made, incidents)
        made = 0
        while made < want_periodic:
            made += self.periodic(want_periodic - made, incidents)
        made = 0
        while made < want_oneoff:
            made += self.one_off(incidents)

    def write(self, out, topology):
        os.makedirs(out, exist_ok=True)
        r = self.rng
        for a in self.alerts:
            a["start"] = max(0, min(a["start"], self.span))
        order = sorted(range(len(self.alerts)), key=lambda i: (self.alerts[i]["start"], i))
        keys = {}
        for n, i in enumerate(order):
            keys[i] = "a%05d" % (n + 1)
        events = []
        for i, a in enumerate(self.alerts):
            events.append((a["start"], 0, i))
            if a["end"] is not None and a["end"] <= self.span:
                events.append((a["end"], 1, i))
        events.sort()
        with open(os.path.join(out, "alerts.ndjson"), "w") as f:
            for t, kind, i in events:
                a = self.alerts[i]
                line = {"labels": a["labels"], "annotations": a["annotations"],
                        "startsAt": iso(BASE_MS + a["start"]),
                        "generatorURL": "http://prometheus.example.com/graph?g0.expr=%s" % a["labels"]["alertname"],
                        "key": keys[i]}
                if kind == 1:
                    line["endsAt"] = iso(BASE_MS + a["end"])
                elif r.random() < 0.3:
                    line["endsAt"] = "0001-01-01T00:00:00Z"
                f.write(json.dumps(line, sort_keys=True) + "\n")
        groups = {}
        for i, a in enumerate(self.alerts):
            groups.setdefault(a["group"], []).append(keys[i])
        truth = {"groups": [sorted(groups[g]) for g in sorted(groups)],
                 "kinds": [self.groups[g] for g in sorted(groups)]}
        with open(os.path.join(out, "truth.json"), "w") as f:
            json.dump(truth, f)
        with open(os.path.join(out, "topology.json"), "w") as f:
            json.dump(topology, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--alerts", type=int, default=5000)
    ap.add_argument("--hours", type=float, default=24)
    ap.add_argument("--out", required=True)
    ap.add_argument("--labels", choices=["full", "few"], default="full")
    ap.add_argument("--vocab", choices=sorted(VOCABS), default="default")
    args = ap.parse_args()
    g = Gen(args)
    g.run()
    g.write(args.out, g.world.topology())
    kinds = {}
    for gid in sorted({a["group"] for a in g.alerts}):
        kinds[g.groups[gid]] = kinds.get(g.groups[gid], 0) + 1
    print(json.dumps({"alerts": len(g.alerts), "groups": kinds}))


if __name__ == "__main__":
    main()
