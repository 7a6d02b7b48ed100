"""Schemathesis fuzzes every operation of the OpenAPI document: no input may produce a 5xx.

Runs as a network administrator, so generated requests get past authentication and
reach validation and storage. ``STADSLAB_FUZZ_EXAMPLES`` sets the number of examples
per operation: the suite uses a small number; docs/security.md records a longer run
(``STADSLAB_FUZZ_EXAMPLES=50 pytest tests/security -s`` prints the figures).
"""

import os

import schemathesis
from hypothesis import HealthCheck, given, settings

EXAMPLES = int(os.environ.get("STADSLAB_FUZZ_EXAMPLES", "6"))


def test_openapi_fuzz_gives_no_server_errors(admin_client):
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", admin_client.app)
    headers = dict(admin_client.headers)
    tried, operations, failures = 0, 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            nonlocal tried
            tried += 1
            try:
                response = case.call(headers=headers)
            except Exception as exc:  # noqa: BLE001 - an unhandled exception is a 500 for the client
                failures.append((case.method, case.formatted_path, repr(exc)[:300]))
                return
            deliberate = response.status_code == 503 and case.formatted_path.startswith("/api/v1/health")
            if response.status_code >= 500 and not deliberate:  # readiness reports 503 on purpose
                failures.append((case.method, case.formatted_path, response.status_code, response.text[:300]))

        run()
    print(f"\nschemathesis: {operations} operations, {tried} requests, {len(failures)} server errors")
    assert operations > 50
    assert not failures, failures[:10]
