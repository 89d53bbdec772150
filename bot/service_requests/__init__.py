"""Paid-service requests: everything under the request form, with no Rasa in it.

When an answer is "not in standard support, but it can be bought" (verdict
`paid`), the dialogue offers to pass the request to the right team. The
modules, in the order a request meets them:

    services     which paid service a message names
    form         what a form answer means: "skip", the field a correction names
    countries    country names and aliases -> ISO code, and a code's name per language
    validation   each field checked and cleaned; stable problem codes
    catalogue    the services, their queues and clauses, from the rule base
    routing      service (or clause) x country -> queue, from content/routing.csv
    filing       validate, route and store under SR-YYYY-NNNNNN, idempotently
    store        reading requests back, export, status (`bot requests`)
    webhook      POST each new request to the team's endpoint

Licence keys are stored in full (the team needs them) but never printed,
logged or sent in full. Other modules import from here, not from the modules.
"""

from bot.service_requests.countries import country_code, country_name
from bot.service_requests.filing import FiledRequest, file_request, idempotency_key_for
from bot.service_requests.form import SKIP, email_in, field_named, field_words, is_skip
from bot.service_requests.paid_services import queues, service_ids
from bot.service_requests.routing import (
    ROUTING_FILE,
    Route,
    RoutingError,
    RoutingRow,
    UnknownCountry,
    UnknownService,
    check_routing,
    read_routing,
    route,
    routing_file,
)
from bot.service_requests.services import find_service
from bot.service_requests.store import (
    EXPORT_COLUMNS,
    STATUSES,
    RequestNotFound,
    StoredRequest,
    export_requests,
    get_request,
    list_requests,
    set_status,
)
from bot.service_requests.validation import (
    FIELDS,
    PROBLEM_CODES,
    FieldProblem,
    RequestInvalid,
    validate_field,
)
from bot.service_requests.webhook import notify, notify_in_background, webhook_url

__all__ = [
    "EXPORT_COLUMNS",
    "FIELDS",
    "PROBLEM_CODES",
    "ROUTING_FILE",
    "SKIP",
    "STATUSES",
    "FieldProblem",
    "FiledRequest",
    "RequestInvalid",
    "RequestNotFound",
    "Route",
    "RoutingError",
    "RoutingRow",
    "StoredRequest",
    "UnknownCountry",
    "UnknownService",
    "check_routing",
    "country_code",
    "country_name",
    "email_in",
    "export_requests",
    "field_named",
    "field_words",
    "file_request",
    "find_service",
    "get_request",
    "idempotency_key_for",
    "is_skip",
    "list_requests",
    "notify",
    "notify_in_background",
    "queues",
    "read_routing",
    "route",
    "routing_file",
    "service_ids",
    "set_status",
    "validate_field",
    "webhook_url",
]
