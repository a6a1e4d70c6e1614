"""Shared by the Watson IoT SDK checks: sends every connection to an org's host name
(`{org}.internetofthings.ibmcloud.com:443`, what the vendor's clients always build) to the
simulator on 127.0.0.1 instead, the way /etc/hosts would. The SDK's own URLs, Host headers,
TLS server names and certificate checks stay exactly as the vendor wrote them.

Both SDKs send HTTP through requests, and so through urllib3, which looks up
`urllib3.util.connection.create_connection` each time it opens a connection.
"""

import sys

import urllib3.util.connection as connection

checks = 0


def check(condition, what):
    """Counts a check; fails the script with a message when it does not hold."""
    global checks
    if not condition:
        print("FAILED: " + what, file=sys.stderr)
        sys.exit(1)
    checks += 1


def redirect(domain, port):
    """Connections to any host under `domain` go to 127.0.0.1:port."""
    real = connection.create_connection

    def create_connection(address, *args, **kwargs):
        host, _ = address
        if host == domain or host.endswith("." + domain):
            address = ("127.0.0.1", port)
        return real(address, *args, **kwargs)

    connection.create_connection = create_connection
