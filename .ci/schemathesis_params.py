"""Prints the `[dictionaries.*]`, `[parameters]` and `[[operations]]` tables that
.ci/schemathesis.sh appends to .ci/schemathesis.toml: path parameters taken from the running
demo (its backends, orgs and plans), so that the requests reach past the org lookup.

Usage: python3 .ci/schemathesis_params.py http://127.0.0.1:PORT
"""

import json
import os
import sys
import urllib.parse
import urllib.request

# Each org route by its operationId in the document (the handler's name), its org parameter
# (DELETE of an org gets an expendable one), and the operation its backend must serve for the
# route to read its query.
ROUTES = {
    "get_org": "org.get",
    "patch_org": "org.patch",
    "delete_org": "org.delete",
    "list_plans": "plans.list",
    "put_plan": "plans.put",
    "delete_plan": "plans.delete",
    "get_usage": "usage.get",
    "get_series": "usage.series",
    "list_customers": "customers.list",
    "create_customer": "customers.create",
    "list_subscriptions": "subscriptions.list",
    "create_subscription": "subscriptions.create",
}


def main(base: str) -> None:
    token = os.environ["ORGWAY_TOKEN"]

    def get(path):
        req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    backends = []  # (name, operations, [org references], the last org's id)
    plans = set()
    for b in get("/v1/backends")["items"]:
        caps = b["capabilities"]
        if "orgs" not in caps["lists"]:
            continue
        items = get(f"/v1/backends/{urllib.parse.quote(b['name'])}/orgs?limit=500")["items"]
        if not items:
            continue
        refs = [o["alias"] or o["id"] for o in items[:-1]] + [o["id"] for o in items[:-1]]
        backends.append((b["name"], set(caps["operations"]), refs, items[-1]["id"]))
        if "plans" in caps["lists"]:
            for o in items:
                q = urllib.parse.quote(o["id"], safe="")
                for p in get(f"/v1/orgs/{q}/plans?limit=500")["items"]:
                    plans.update([p["id"]] + ([p["name"]] if p["name"] else []))
    orgs = sorted({r for _, _, refs, _ in backends for r in refs})

    def toml(value):
        if isinstance(value, list):
            return "[" + ", ".join(json.dumps(v) for v in value) + "]"
        return json.dumps(value)

    print(f"""
[dictionaries.orgs]
values = {toml(orgs)}

[dictionaries.plans]
values = {toml(sorted(plans) or ["1"])}

[dictionaries.backends]
values = {toml([name for name, _, _, _ in backends])}

[parameters]
"path.org" = {{ dictionary = "orgs", probability = 0.9 }}
"path.customer" = {{ dictionary = "orgs", probability = 0.9 }}
"path.plan" = {{ dictionary = "plans", probability = 0.7 }}
"path.backend" = {{ dictionary = "backends", probability = 0.9 }}""")

    # (One `include-*` key per table: several would each select operations, not narrow them.)
    for operation_id, op in ROUTES.items():
        serving = [b for b in backends if op in b[1] and b[2]]
        if not serving:
            continue  # 501 for every org: the dictionary's orgs and random ones will do
        _, _, refs, last = serving[0]
        org = last if operation_id == "delete_org" else refs[0]
        print(f"""
[[operations]]
include-operation-id = {toml(operation_id)}
parameters = {{ "path.org" = {toml(org)} }}""")
    if backends:
        print(f"""
[[operations]]
include-operation-id = "list_backend_orgs"
parameters = {{ "path.backend" = {toml(backends[0][0])} }}""")


if __name__ == "__main__":
    main(sys.argv[1])
