"""Sends a trace, a log record and a gauge to a running klaxon with the OpenTelemetry Python SDK
and its OTLP/HTTP (protobuf) exporters, as an instrumented program would.

Usage: otel_sdk.py BASE_URL TOKEN. Exits 0 once every export was answered with success.
The trace: a failed `checkout` root span with a 150 ms `db.query` child (context `orders`)
that carries a `cache.miss` event; the spans are exported gzip-compressed. The log: an ERROR
record "payment declined for order 7" written inside the trace. The metric: the gauge
`queue.depth` = 12 with the attribute queue=mail.
"""

import logging
import sys
import time

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

base, token = sys.argv[1], sys.argv[2]
headers = {"Authorization": f"Bearer {token}"}
resource = Resource.create({"service.name": "shop"})

spans = OTLPSpanExporter(
    endpoint=f"{base}/v1/traces", headers=headers, timeout=5, compression=Compression.Gzip
)
tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(BatchSpanProcessor(spans))

logs = OTLPLogExporter(endpoint=f"{base}/v1/logs", headers=headers, timeout=5)
logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(BatchLogRecordProcessor(logs))
log = logging.getLogger("shop")
log.propagate = False
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
log.setLevel(logging.INFO)

reader = PeriodicExportingMetricReader(
    OTLPMetricExporter(endpoint=f"{base}/v1/metrics", headers=headers, timeout=5),
    export_interval_millis=3_600_000,
)
meter_provider = MeterProvider(resource=resource, metric_readers=[reader])

tracer = tracer_provider.get_tracer("shop")
with tracer.start_as_current_span("checkout") as root:
    with tracer.start_as_current_span(
        "db.query", attributes={"klaxon.context": "orders"}
    ) as query:
        query.add_event("cache.miss")
        time.sleep(0.15)
    log.error("payment declined for order 7")
    root.set_status(Status(StatusCode.ERROR, "card declined"))

meter_provider.get_meter("shop").create_gauge("queue.depth").set(12, {"queue": "mail"})

ok = tracer_provider.force_flush(10_000)
ok = logger_provider.force_flush(10_000) and ok
ok = meter_provider.force_flush(10_000) and ok
# The exporters log a failed export and force_flush says whether everything was exported.
if not ok:
    sys.exit("an export did not succeed")
print("exported")
