"""Drives the vendor's own Python SDK (PyPI cvpysdk 11.44) against running Commvault
simulators and asserts on what comes back.

Run by tests/commvault_sdk.rs, which starts two simulators and passes them in the environment:
- CV_URL, CV_HOST: the main simulator's web-service root and host:port (demo data, 30-minute
  tokens);
- CV_USER, CV_PASSWORD: a configured user;
- CV_TOKEN: a token the simulator issued for that user (the `authtoken=` path);
- CV_RENEW_URL, CV_RENEW_HOST: a second simulator whose tokens die after CV_RENEW_IDLE_SECONDS
  without use, to drive cvpysdk's renew-on-401.
Secrets travel in the environment, not on the command line, so they never show in a process
listing.
"""

import os
import sys
import time

from cvpysdk.commcell import Commcell
from cvpysdk.exception import SDKException

URL = os.environ["CV_URL"]
HOST = os.environ["CV_HOST"]
USER = os.environ["CV_USER"]
PASSWORD = os.environ["CV_PASSWORD"]
TOKEN = os.environ["CV_TOKEN"]
RENEW_URL = os.environ["CV_RENEW_URL"]
RENEW_HOST = os.environ["CV_RENEW_HOST"]
RENEW_IDLE = float(os.environ["CV_RENEW_IDLE_SECONDS"])

checks = 0


def check(condition, what):
    """Counts a check; fails the script with a message when it does not hold."""
    global checks
    if not condition:
        print("FAILED: " + what, file=sys.stderr)
        sys.exit(1)
    checks += 1


def expect_sdk_error(call, module, code, text=None):
    """Runs call, which must raise SDKException(module, code) whose message holds text."""
    try:
        call()
    except SDKException as e:
        check(e.exception_module == module and e.exception_id == code,
              "expected SDKException %s %s, got %s %s: %s"
              % (module, code, e.exception_module, e.exception_id, e.exception_message))
        if text is not None:
            check(text in e.exception_message,
                  "%r in the error message %r" % (text, e.exception_message))
        return e
    check(False, "expected SDKException %s %s, the call succeeded" % (module, code))
    return None


# Login with credentials: GET <root>, then POST Login with the base64 password.
cc = Commcell(HOST, commcell_username=USER, commcell_password=PASSWORD, web_service_url=URL)
check(cc.commcell_username == USER, "logged in as %s" % USER)
check(cc.auth_token.startswith("QSDK "), "the token is a QSDK token")

# A wrong password is refused with the vendor's errList message.
expect_sdk_error(
    lambda: Commcell(HOST, commcell_username=USER, commcell_password="wrong", web_service_url=URL),
    "CVPySDK", "101", "Invalid Username or Password")

# Organizations: the list, then one organization's load (GET organization, ?Fl=…,
# Organization/{id}, UserGroup?parentProvider/providerId=…).
orgs = cc.organizations
names = sorted(orgs.all_organizations)
check(names == ["acme", "company001", "globex", "initech", "umbrella health"],
      "the demo organizations, got %r" % names)
check(orgs.all_organizations["acme"] == 7, "acme has id 7")
check(orgs.has_organization("ACME"), "has_organization ignores case")

acme = orgs.get("Acme")
check(acme.organization_id == "7", "acme's id, got %r" % acme.organization_id)
check(acme.name == "Acme", "acme's name")
check(acme.domain_name == "acme", "acme's alias")
check(acme.plans == ["laptop plan", "gold backup"], "acme's plans, got %r" % acme.plans)
check(acme.default_plan == ["Laptop plan"], "acme's default plan, got %r" % acme.default_plan)
check(acme.user_count == 48, "acme's users, got %r" % acme.user_count)
check(acme.machine_count == 50, "acme's machines, got %r" % acme.machine_count)
check(acme.server_count == 9, "acme's servers, got %r" % acme.server_count)
check(acme.contacts_fullname == ["Jo Admin"], "acme's contact, got %r" % acme.contacts_fullname)
check(acme.email_domain_names == ["acme.example"], "acme's email domains")
check(acme.is_backup_disabled is False, "acme is active")
check(isinstance(acme.organization_created_on, str) and "2020" in acme.organization_created_on,
      "creation time reads as epoch seconds, got %r" % acme.organization_created_on)
check(acme.user_groups == ["acme\\Tenant Admin", "acme\\Tenant Users"],
      "acme's user groups, got %r" % acme.user_groups)

initech = orgs.get("initech")
check(initech.is_backup_disabled is True and initech.is_login_disabled is True,
      "initech is deactivated")

# A property update: PUT Organization?organizationId=7 (JSON), then a reload.
acme.user_session_timeout = 45
check(acme.user_session_timeout == 45, "session timeout updated, got %r" % acme.user_session_timeout)
check(acme.plans == ["laptop plan", "gold backup"], "the update left the plans alone")

# Plans: org.plans = [...] sends planDetailsOperationType 1 (overwrite) with plan ids that
# cvpysdk looked up with GET V2/Plan and GET V2/Plan/{id}.
globex = orgs.get("globex")
check(globex.plans == ["server plan", "silver backup"], "globex's plans, got %r" % globex.plans)
check(globex.default_plan == [], "globex has no default plan")
globex.plans = ["Server plan", "Laptop plan"]
check(globex.plans == ["server plan", "laptop plan"], "plans overwritten, got %r" % globex.plans)

# Default plan: client-side check first (cvpysdk's 111), then a real server update.
expect_sdk_error(lambda: setattr(globex, "default_plan", "Gold backup"), "Organization", "111")
globex.default_plan = "Laptop plan"
check(globex.default_plan == ["Laptop plan"], "default plan set, got %r" % globex.default_plan)

# dissociate_plans sends planDetailsOperationType 3; the default plan goes with its plan.
globex.dissociate_plans(["Laptop plan"])
check(globex.plans == ["server plan"], "laptop plan dissociated, got %r" % globex.plans)
check(globex.default_plan == [], "the default went with the plan, got %r" % globex.default_plan)

# A failure the server reports in the body (errorCode != 0 with HTTP 200): a rename to a name
# another company has.
expect_sdk_error(lambda: setattr(globex, "organization_name", "Acme"), "Organization", "110",
                 "Company name [Acme] is already in use")
globex.domain_name = "globex2"
check(globex.domain_name == "globex2", "alias renamed, got %r" % globex.domain_name)
globex.organization_name = "Globex Corp"
check(globex.name == "Globex Corp", "renamed, got %r" % globex.name)
check("globex corp" in cc.organizations.all_organizations, "the list shows the new name")

# The cache query with its columns, paging and sorting.
cache = orgs.get_organizations_cache(limit=["0", "2"], sort=["name", "-1"])
check(list(cache) == ["umbrella health", "initech"], "cache page, got %r" % list(cache))
check(orgs.filter_query_count == 5, "filterQueryCount, got %r" % orgs.filter_query_count)
found = orgs.get_organizations_cache(search="jo adm")
check(list(found) == ["acme"], "search by contact, got %r" % list(found))

# The CommCell's default plans (organization 0).
defaults = cc.get_default_plan()
check(defaults == [{"subtype": "Server plan", "plan": {"planName": "Server plan", "planId": 1}}],
      "the CommCell default plan, got %r" % defaults)
cc.set_default_plan("Gold backup")
check([d["plan"]["planName"] for d in cc.get_default_plan()] == ["Gold backup"],
      "the CommCell default plan changed")

# An authtoken instead of credentials: POST WhoAmI names the user.
cc2 = Commcell(HOST, authtoken=TOKEN, web_service_url=URL)
check(cc2.commcell_username == USER, "WhoAmI named %r" % cc2.commcell_username)
check(cc2.organizations.get("company001").plans == ["server plan"], "company001 via authtoken")

# Renew-on-401: a token idle too long gets 401; cvpysdk renews it and retries.
cc3 = Commcell(RENEW_HOST, commcell_username=USER, commcell_password=PASSWORD,
               web_service_url=RENEW_URL)
first = cc3.auth_token
time.sleep(RENEW_IDLE + 0.5)
check(len(cc3.organizations.all_organizations) == 5, "the list after renewal")
check(cc3.auth_token != first, "the token was renewed")

print("commvault sdk: %d checks passed" % checks)
