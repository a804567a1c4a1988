"""The HTTP API against its own OpenAPI 3.1 document (web/openapi.yaml, served at
/openapi.yaml), fuzzed by schemathesis on a live `vstream serve`: a bounded number of
generated requests per operation; no 5xx, and every response (status, content type,
headers, body) conforms to the document."""
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from hypothesis import HealthCheck, settings

@pytest.fixture(scope="module")
def api_schema(module_server):
    live_api = module_server
    # A request the document forbids must be refused: 413 (over the size limit) and 415
    # (not JSON, not a video) are this API's refusals too, besides schemathesis' defaults.
    config = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {
        "expected-statuses": ["400", "401", "403", "404", "405", "413", "415", "422"]}}})
    schema = schemathesis.openapi.from_url(live_api + "openapi.yaml", config=config)
    schema.config.base_url = live_api.rstrip("/")
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
# derandomize: the same examples on every run, so CI checks what a developer checked.
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_and_never_answers_5xx(case):
    case.call_and_validate(timeout=20)
