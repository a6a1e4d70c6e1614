"""Schemathesis hooks for .ci/schemathesis.sh.

`positive_data_acceptance` fails a request the OpenAPI document calls valid that the server
refuses with 400 or 422. The document is exactly as strict as the server's parsers wherever a
JSON Schema can say so (`limit` 1-500, the `sort` and `include` values, a non-empty `cursor`,
…); the refusals below depend on something no schema of one parameter can express: the
backend's own capabilities, another parameter, or state the gateway issued. docs/API.md and
the document's descriptions name each of them. This hook drops those failures, and only those:
each is matched by its error code and its whole message, so any other refusal of a valid
request still fails the run.
"""

import atexit
import collections
import json
import re
import sys

import schemathesis

# (error code, the message's regular expression, why no schema can say it)
DOCUMENTED_REFUSALS = [
    # docs/API.md §2: each backend kind checks its native ids' shape; the document's pattern
    # is the union of every kind's.
    ("invalid_org_ref", r"`.*` is not an? .* \(backend `[a-z0-9-]+` is [a-z-]+\)", "native id of another kind"),
    ("invalid_org_ref", r"customer `.*` is on backend `[a-z0-9-]+`, not on `[a-z0-9-]+` with its vendor", "two parameters"),
    # A plan id is in the vendor's own form (the `planId` description): Enhance's are integers.
    ("bad_request", r"`.*` is not an Enhance plan id \(an integer\)", "the backend's id form"),
    # docs/API.md §5: the cursor is opaque, issued for one list and sort order.
    ("bad_request", r"`cursor` is not a cursor this gateway issued", "issued state"),
    ("bad_request", r"`cursor` belongs to another list or sort order; start again without it", "issued state"),
    # docs/API.md §5: a sort the backend cannot honour is refused, never ignored.
    ("bad_request", r"backend `[a-z0-9-]+` \([a-z-]+\) cannot sort this list by [A-Za-z]+; it sorts by .*", "backend capability"),
    # docs/API.md §3: `from` before `to`, at most 400 days, years 1 to 9999.
    ("bad_request", r"`from` \(.*\) must be before `to` \(.*\)", "two parameters (or `to`'s default, now)"),
    ("bad_request", r"the range from .* to .* is longer than 400 days", "two parameters (or their defaults)"),
    ("bad_request", r"`(from|to)`: `.*` is outside the years 1 to 9999 in UTC", "an RFC 3339 offset moves it out of range"),
    ("bad_request", r"`(from|to)`: [0-9]+ ms since the epoch is out of range", "a digit string past year 9999"),
    ("bad_request", r"`(from|to)`: `.*` is too large for milliseconds since the epoch", "a digit string past year 9999"),
    # The backend's range: Losant keeps no usage from before 1970 (`from`'s description).
    ("bad_request", r"losant keeps no usage from before 1970-01-01T00:00:00\.001Z", "backend's range"),
    # docs/API.md §3: `unit` is the metric's own unit or bytes.
    ("bad_request", r"`unit` of `[a-z-]+` must be `[a-z]+`( or `bytes`)?, not `[a-z]+`", "the metric (a path parameter)"),
    # docs/API.md §4: fields (and statuses) a backend cannot change are 422.
    ("unsupported_field", r"backend `[a-z0-9-]+` \([a-z-]+\) cannot change .*", "backend capability"),
    ("unsupported_field", r"backend `[a-z0-9-]+` \([a-z-]+\) can set status to .*, not [a-z]+", "backend capability"),
]
_COMPILED = [(code, re.compile(pattern, re.DOTALL), why) for code, pattern, why in DOCUMENTED_REFUSALS]
_DROPPED = collections.Counter()


def _documented(response):
    """The documented refusal this answer is, if it is one."""
    try:
        error = json.loads(response.content)["error"]
        code, message = error["code"], error["message"]
    except (ValueError, KeyError, TypeError):
        return None
    for c, p, why in _COMPILED:
        if c == code and p.fullmatch(message):
            return f"{code}: {p.pattern} ({why})"
    return None


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keeps every failure but a valid request's documented refusal."""
    if type(failure).__name__ != "RejectedPositiveData" or response is None:
        return True
    if response.status_code not in (400, 422):
        return True
    refusal = _documented(response)
    if refusal is None:
        return True
    _DROPPED[refusal] += 1
    return False


@atexit.register
def _report() -> None:
    if _DROPPED:
        print("Valid requests refused as documented (not failures):", file=sys.stderr)
        for refusal, n in _DROPPED.most_common():
            print(f"  {n:5}  {refusal}", file=sys.stderr)
