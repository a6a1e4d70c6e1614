"""Drives the vendor's own Python SDK (PyPI losant-rest 2.3.0, import name losant_rest)
against a running Losant simulator and asserts on what comes back.

Run by tests/losant_sdk.rs, which starts the simulator and passes its address in the
environment: LOSANT_URL, LOSANT_TOKEN, LOSANT_INSTANCE, LOSANT_ORG. The token travels in the
environment, not on the command line, so it never shows in a process listing.
"""

import os
import sys

from losant_rest import Client, LosantError

URL = os.environ["LOSANT_URL"]
TOKEN = os.environ["LOSANT_TOKEN"]
INSTANCE = os.environ["LOSANT_INSTANCE"]
ORG = os.environ["LOSANT_ORG"]

DAY = 86400000
MARCH_4_2024 = 1709510400000

checks = 0


def check(condition, what):
    """Counts a check; fails the script with a message when it does not hold."""
    global checks
    if not condition:
        print("FAILED: " + what, file=sys.stderr)
        sys.exit(1)
    checks += 1


def expect_error(status, call):
    """Runs call, which must raise LosantError with this status and a vendor error body."""
    try:
        call()
    except LosantError as e:
        check(e.status == status, "expected %d, got %s %s" % (status, e.status, e.data))
        check(isinstance(e.data, dict) and "type" in e.data and "message" in e.data,
              "error body has type and message: %r" % (e.data,))
        return e
    check(False, "expected LosantError %d, the call succeeded" % status)
    return None


client = Client(auth_token=TOKEN, url=URL)

# instanceOrgs.get: paging and sorting.
page0 = client.instance_orgs.get(instanceId=INSTANCE, page=0, perPage=2,
                                 sortField="name", sortDirection="asc")
check(page0["count"] == 2, "page 0 holds 2 orgs")
check(page0["perPage"] == 2 and page0["page"] == 0, "paging echoed")
total = page0["totalCount"]
check(total >= 5, "at least 5 demo orgs, got %d" % total)
names = []
page = 0
while True:
    result = client.instance_orgs.get(instanceId=INSTANCE, page=page, perPage=2,
                                      sortField="name", sortDirection="asc")
    if not result["items"]:
        break
    names.extend(item["name"] for item in result["items"])
    page += 1
check(len(names) == total, "pages cover all %d orgs" % total)
check(names == sorted(names, key=str.lower), "sorted by name: %r" % names)

desc = client.instance_orgs.get(instanceId=INSTANCE, sortField="creationDate",
                                sortDirection="desc")
dates = [item["creationDate"] for item in desc["items"]]
check(dates == sorted(dates, reverse=True), "sorted by creationDate desc")

filtered = client.instance_orgs.get(instanceId=INSTANCE, filterField="name", filter="acme*")
check([o["name"] for o in filtered["items"]] == ["Acme Industrial"], "glob filter")
check(filtered["filter"] == "acme*", "filter echoed")

queried = client.instance_orgs.get(instanceId=INSTANCE,
                                   query={"name": {"$eq": "Cedar Smart Buildings"}})
check(queried["totalCount"] == 1, "advanced query (the SDK JSON-encodes it)")

# instanceOrgs.post
created = client.instance_orgs.post(instanceId=INSTANCE,
                                    orgConfig={"name": "SDK Org", "limits": {"device": 5}})
check(created["name"] == "SDK Org" and len(created["id"]) == 24, "org created")
check(created["limits"]["device"] == 5, "post limits kept")

# instanceOrg.get, with the payload summary and the losantdomain header.
org = client.instance_org.get(instanceId=INSTANCE, orgId=ORG, summaryInclude="payloadCount",
                              losantdomain="example.com")
check(org["id"] == ORG and org["orgId"] == ORG, "org ids")
check(org["instanceId"] == INSTANCE, "instance id")
check("payloadCount" in org["summary"], "summaryInclude=payloadCount honoured")
plain = client.instance_org.get(instanceId=INSTANCE, orgId=ORG)
check("payloadCount" not in plain["summary"], "payloadCount only when asked for")

# instanceOrg.patch
patched = client.instance_org.patch(instanceId=INSTANCE, orgId=ORG,
                                    organization={"name": "SDK Renamed",
                                                  "limits": {"member": 10}})
check(patched["name"] == "SDK Renamed", "patch answered with the new name")
check(patched["limits"]["member"] == 10, "patched limit")
again = client.instance_org.get(instanceId=INSTANCE, orgId=ORG)
check(again["name"] == "SDK Renamed", "patch persisted")

bad = expect_error(400, lambda: client.instance_org.patch(
    instanceId=INSTANCE, orgId=ORG, organization={"limits": {"members": 500}}))
check("limits.members" in bad.data["message"], "400 names the field")
expect_error(400, lambda: client.instance_org.patch(
    instanceId=INSTANCE, orgId=ORG, organization={"limits": {"dataTTL": 60}}))

# Usage series over three whole days.
start, end = MARCH_4_2024, MARCH_4_2024 + 3 * DAY
devices = client.instance_org.device_counts(instanceId=INSTANCE, orgId=ORG, start=start, end=end)
check(devices["start"] == "2024-03-04T00:00:00.000Z", "deviceCounts start")
check(devices["end"] == "2024-03-07T00:00:00.000Z", "deviceCounts end")
counts = devices["counts"]
check(len(counts) == 3, "3 daily device buckets")
for before, after in zip(counts, counts[1:]):
    check(after["total"] == before["total"] + after["created"] - after["deleted"],
          "device totals chain")

notebooks = client.instance_org.notebook_minute_counts(instanceId=INSTANCE, orgId=ORG,
                                                       start=start, end=end)
check(len(notebooks["counts"]) == 3, "3 daily notebook buckets")
check(all(set(c) == {"date", "minutes", "completed", "canceled", "errored", "timeout"}
          for c in notebooks["counts"]), "notebook bucket keys")

stats = client.instance_org.payload_counts(instanceId=INSTANCE, orgId=ORG, start=start, end=end,
                                           asBytes="false")
check(all(isinstance(v, (int, float)) for s in stats.values() for v in s.values()),
      "payloadStats values are numbers")
count_total = sum(v for s in stats.values() for v in s.values())
byte_stats = client.instance_org.payload_counts(instanceId=INSTANCE, orgId=ORG, start=start,
                                                end=end, asBytes=True)
byte_total = sum(v for s in byte_stats.values() for v in s.values())
check(byte_total > count_total > 0, "asBytes gives sizes")

daily = client.instance_org.payload_counts_breakdown(instanceId=INSTANCE, orgId=ORG,
                                                     start=start, end=end)
check(len(daily["counts"]) == 3, "3 daily payload buckets")
check(sum(c["value"] for c in daily["counts"]) == count_total,
      "payloadCounts and the daily breakdown agree")
hourly = client.instance_org.payload_counts_breakdown(instanceId=INSTANCE, orgId=ORG,
                                                      start=start, end=end,
                                                      resolution="3600000",
                                                      includeNonBillable="true")
check(len(hourly["counts"]) == 72, "72 hourly payload buckets")
check(sum(c["value"] for c in hourly["counts"]) >= count_total,
      "non-billable payloads only add")
expect_error(400, lambda: client.instance_org.payload_counts_breakdown(
    instanceId=INSTANCE, orgId=ORG, resolution="60000"))

# The docs' own example call: defaults for start.
example = client.instance_org.device_counts(instanceId=INSTANCE, orgId=ORG, start=0,
                                            end=1465790400000)
check(example["end"] == "2016-06-13T04:00:00.000Z", "docs example range")

# instanceOrg.delete
deleted = client.instance_org.delete(instanceId=INSTANCE, orgId=created["id"])
check(deleted == {"success": True}, "delete answers success")
expect_error(404, lambda: client.instance_org.get(instanceId=INSTANCE, orgId=created["id"]))

# Auth
expect_error(401, lambda: Client(auth_token="wrong", url=URL).instance_org.get(
    instanceId=INSTANCE, orgId=ORG))

print("losant_rest against the simulator: %d checks passed" % checks)
