"""Drives the vendor's older Python SDK (PyPI ibmiotf 0.4.0, import name ibmiotf) against a
running Watson IoT simulator over HTTPS and asserts on what comes back. ibmiotf always turns
certificate verification off (`self.verify = False`), so this check cannot verify the
simulator's certificate; the wiotp-sdk check does.

Run by tests/watson_iot_sdk.rs with WIOTP_PORT, WIOTP_DOMAIN, WIOTP_KEY, WIOTP_TOKEN,
WIOTP_ORG and WIOTP_DISABLED_KEY / WIOTP_DISABLED_TOKEN (a key of a disabled org) in the
environment.
"""

import os
import sys
import types

from watson_iot_redirect import check, redirect
import watson_iot_redirect as shared

PORT = int(os.environ["WIOTP_PORT"])
DOMAIN = os.environ["WIOTP_DOMAIN"]
KEY = os.environ["WIOTP_KEY"]
TOKEN = os.environ["WIOTP_TOKEN"]
ORG = os.environ["WIOTP_ORG"]

redirect(DOMAIN, PORT)

# ibmiotf 0.4.0 imports `parameters` from the `symbol` module, removed in Python 3.10, and never
# uses it: give it an empty stand-in (dialects.md §5.6).
shim = types.ModuleType("symbol")
shim.parameters = None
sys.modules.setdefault("symbol", shim)

import ibmiotf  # noqa: E402
import ibmiotf.api  # noqa: E402


def client(key=KEY, token=TOKEN, **extra):
    options = {"auth-key": key, "auth-token": token, "domain": DOMAIN}
    options.update(extra)
    return ibmiotf.api.ApiClient(options)


api = client()
check(api.host == "%s.%s" % (ORG, DOMAIN), "the SDK builds the org's host name: %s" % api.host)

org = api.getOrganizationDetails()
check(org["id"] == ORG, "id: %r" % (org,))
check(isinstance(org["name"], str) and org["enabled"] is True, "name and enabled: %r" % (org,))
check(org["type"] in ("Bluemix Free", "Bluemix Bronze", "Bluemix Silver", "Bluemix Gold", "Pending",
                      "Trial", "Bronze", "Silver", "Gold", "Subscription"), "type: %r" % (org,))
check(isinstance(org["config"]["historian"]["enabled"], bool), "historian: %r" % (org,))
check(org["created"].endswith("+00:00"), "created: %r" % (org,))

# getDataTraffic passes the caller's dict through as the query.
traffic = api.getDataTraffic({"start": "2024-01-01", "end": "2024-01-31", "detail": "true"})
check(traffic["start"] == "2024-01-01" and traffic["end"] == "2024-01-31", "range: %r" % (traffic,))
check(len(traffic["days"]) == 31, "days: %d" % len(traffic["days"]))
check(traffic["total"] == sum(d["total"] for d in traffic["days"]), "total")
month = api.getDataTraffic({"start": "2024-01", "end": "2024-01"})
check(month["total"] == traffic["total"] and month["days"] is None, "a month: %r" % (month,))
try:
    api.getDataTraffic({"start": "January"})
    check(False, "a bad date was accepted")
except ibmiotf.APIException as e:
    check(e.httpCode == 400, "bad date: %s" % e)
    check(e.response["exception"]["id"] == "CUDRS0007E", "400 body: %r" % (e.response,))

# The statuses getOrganizationDetails knows: 401 for a wrong token, 403 for a key that does not
# exist.
for key, token, code in ((KEY, "not-the-token", 401), ("a-%s-nosuchkey0" % ORG, TOKEN, 403)):
    try:
        client(key, token).getOrganizationDetails()
        check(False, "%d: the call succeeded" % code)
    except ibmiotf.APIException as e:
        check(e.httpCode == code, "expected %d: %s" % (code, e))

# A disabled org is read with enabled false.
disabled = client(os.environ["WIOTP_DISABLED_KEY"], os.environ["WIOTP_DISABLED_TOKEN"])
check(disabled.getOrganizationDetails()["enabled"] is False, "the disabled org")

# The `host` option (dialects.md §5.6): straight at 127.0.0.1, the org is the API key's.
direct = client(host="127.0.0.1:%d" % PORT).getOrganizationDetails()
check(direct["id"] == ORG, "the API key's org at 127.0.0.1: %r" % (direct,))

print("ibmiotf: %d checks passed" % shared.checks)
