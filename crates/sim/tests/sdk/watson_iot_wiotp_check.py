"""Drives the vendor's current Python SDK (PyPI wiotp-sdk 1.0.1, import name wiotp.sdk) against
a running Watson IoT simulator over HTTPS, verifying the simulator's certificate with its CA,
and asserts on what comes back.

Run by tests/watson_iot_sdk.rs, which starts the simulator and passes in the environment:
WIOTP_PORT (the simulator's port on 127.0.0.1), WIOTP_DOMAIN, WIOTP_CA (its CA file),
WIOTP_KEY / WIOTP_TOKEN (an API key of WIOTP_ORG and its token). The token travels in the
environment, never on the command line.
"""

import datetime
import os

from watson_iot_redirect import check, redirect
import watson_iot_redirect as shared

PORT = int(os.environ["WIOTP_PORT"])
DOMAIN = os.environ["WIOTP_DOMAIN"]
CA = os.environ["WIOTP_CA"]
KEY = os.environ["WIOTP_KEY"]
TOKEN = os.environ["WIOTP_TOKEN"]
ORG = os.environ["WIOTP_ORG"]

redirect(DOMAIN, PORT)

import wiotp.sdk.application as application  # noqa: E402  (after the redirect, on purpose)
from wiotp.sdk.application.config import ApplicationClientConfig  # noqa: E402
from wiotp.sdk.exceptions import ApiException  # noqa: E402


def client(key=KEY, token=TOKEN):
    # Building the client opens no MQTT connection; only .connect() would.
    return application.ApplicationClient(
        {
            "identity": {"appId": "orgway-sim-check"},
            "auth": {"key": key, "token": token},
            "options": {"domain": DOMAIN, "http": {"verify": CA}},
        }
    )


c = client()
check(c._config.host == "%s.%s" % (ORG, DOMAIN), "the SDK builds the org's host name")

# usage.dataTransfer with detail: the SDK sends detail=True (Python's spelling) and parses
# start, end and each day with %Y-%m-%d.
jan1, jan31 = datetime.date(2024, 1, 1), datetime.date(2024, 1, 31)
summary = c.usage.dataTransfer(jan1, jan31, True)
check(summary.start == jan1, "start: %r" % (summary.start,))
check(summary.end == jan31, "end: %r" % (summary.end,))
check(len(summary.days) == 31, "31 days: %d" % len(summary.days))
check(summary.days[0].date == jan1, "first day: %r" % (summary.days[0].date,))
check(summary.days[-1].date == jan31, "last day")
total = sum(d.total for d in summary.days)
check(summary.total == total, "total %r is the sum of the days %r" % (summary.total, total))
check(summary.average == total // 31, "average: %r" % (summary.average,))
check(all(isinstance(d.total, int) and d.total > 0 for d in summary.days), "per-day totals")

# Without detail (the SDK's default): the same totals and no days.
plain = c.usage.dataTransfer(jan1, jan31)
check(plain.days == [], "no days without detail: %r" % (plain.days,))
check(plain.total == summary.total, "same total without detail")

# serviceStatus: the org's region with the status of each service.
status = c.serviceStatus()
check(status.messaging == "green" and status.dashboard == "green", "service status: %r" % (status,))

# A wrong token is refused with the vendor's error body, which the SDK reads.
try:
    client(token="not-the-token").usage.dataTransfer(jan1, jan31)
    check(False, "a wrong token was accepted")
except ApiException as e:
    check(e.response.status_code == 401, "wrong token: %s" % e.response.status_code)
    check(e.id is not None and e.message.startswith(e.id), "error body: %r" % (e.body,))

# A bad range is a 400 with violations, which the SDK exposes.
try:
    c.usage.dataTransfer(jan31, jan1, True)
    check(False, "a reversed range was accepted")
except ApiException as e:
    check(e.response.status_code == 400, "reversed range: %s" % e.response.status_code)
    check(e.id == "CUDRS0007E", "id: %r" % (e.id,))
    check(e.violations and e.violations[0].startswith("CUDRS0012E"), "violations: %r" % (e.violations,))

# dialects.md §5.6's way to aim the SDK at 127.0.0.1 directly: the host is patched, the org is
# then the API key's, and the certificate is still checked (it names 127.0.0.1 too).
ApplicationClientConfig.host = property(lambda self: "127.0.0.1:%d" % PORT)
direct = client().usage.dataTransfer(jan1, jan31, True)
check(direct.total == summary.total, "the API key's org is served at 127.0.0.1")

print("wiotp-sdk: %d checks passed" % shared.checks)
