"""bot.service_requests.routing and .catalogue: where a request goes, read from
content/routing.csv at every call, with the services and queues of the rule base."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot import rulebase
from bot import service_requests as sr

from .contract import QUEUES
from .helpers import copy_rulebase, edit_entry
from .sr_forms import file_form, stored_rows


@pytest.fixture(autouse=True)
def _no_outside_config(tmp_path, monkeypatch):
    monkeypatch.delenv("BOT_REQUESTS_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("BOT_ROUTING_FILE", raising=False)
    # calls without a database URL use this empty one: the rule base files decide
    monkeypatch.setenv("BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'default.db'}")


@pytest.fixture
def routing_copy(tmp_path, monkeypatch) -> Path:
    """A private copy of content/routing.csv, used through BOT_ROUTING_FILE."""
    path = tmp_path / "routing.csv"
    shutil.copy(sr.ROUTING_FILE, path)
    monkeypatch.setenv("BOT_ROUTING_FILE", str(path))
    return path


def test_route_default_and_country_specific_rows():
    norway = sr.route("premium_support", "Norge")
    assert (norway.country, norway.queue, norway.offered) == ("NO", "premium_support", True)
    japan = sr.route("support_renewal", "JP")  # only the * row
    assert (japan.queue, japan.offered, japan.alternatives) == ("support_renewal", True, ())
    iceland = sr.route("professional_services", "Iceland")
    assert iceland.queue == "professional_services"
    with pytest.raises(sr.UnknownService):
        sr.route("free_lunch", "NO")


def test_not_offered_in_a_country_says_so_and_suggests_what_is():
    spain = sr.route("premium_support", "Spania")  # premium_support,*, is empty
    assert (spain.offered, spain.queue) == (False, None)
    assert spain.alternatives == ("professional_services", "incident_response", "support_renewal")
    iceland = sr.route("incident_response", "Island")
    assert (iceland.offered, iceland.queue) == (False, None)
    assert iceland.alternatives == ("professional_services", "support_renewal")
    assert "provider" in iceland.note


def test_a_clause_row_overrides_its_service_in_its_country():
    on_site_iceland = sr.route("professional_services", "IS", clause="rules:4.2.5")
    assert not on_site_iceland.offered
    assert "professional_services" in on_site_iceland.alternatives  # remote sessions are
    assert sr.route("professional_services", "NO", clause="rules:4.2.5").offered
    assert sr.route("professional_services", "IS", clause="rules:4.2.10").offered


def test_shipped_routing_table_is_valid_and_covers_every_service():
    assert sr.check_routing() == []
    routed = {row.service for row in sr.read_routing()}
    assert set(sr.service_ids()) <= routed
    assert {row.queue for row in sr.read_routing() if row.queue} == set(QUEUES)


def test_editing_the_table_changes_routing_with_no_code_change(routing_copy, database_url):
    assert not sr.route("premium_support", "ES").offered
    with pytest.raises(sr.RequestInvalid) as refused:
        file_form(database_url, country="Spain")
    assert refused.value.codes == {"service": "service_not_offered"}

    text = routing_copy.read_text(encoding="utf-8")
    text = text.replace("incident_response,IS,,", "incident_response,IS,professional_services,")
    routing_copy.write_text(text + "premium_support,ES,premium_support,new partner\n", "utf-8")

    spain = sr.route("premium_support", "ES")
    assert (spain.offered, spain.queue, spain.note) == (True, "premium_support", "new partner")
    iceland = sr.route("incident_response", "IS")
    assert iceland.queue == "professional_services"
    filed = file_form(database_url, country="Spain")
    assert filed.queue == "premium_support"
    filed = file_form(database_url, service="incident_response", country="Island")
    assert filed.queue == "professional_services"
    rows = stored_rows(database_url)
    assert [r["queue"] for r in rows] == ["premium_support", "professional_services"]


def test_a_broken_table_names_every_bad_line_and_routes_nothing(routing_copy):
    routing_copy.write_text(
        "# comment\n"
        "service,country,queue,note\n"
        "premium_support,NO,premium_support,\n"
        "premium_support,NORWAY,premium_support,\n"
        "premium_support,SE,gold_queue,\n"
        "premium_support,NO,,\n"
        "free_lunch,*,professional_services,\n"
        "support_renewal,*\n",
        encoding="utf-8",
    )
    with pytest.raises(sr.RoutingError) as broken:
        sr.route("premium_support", "NO")
    problems = broken.value.problems
    assert [p.split(":")[0] for p in problems] == ["line 4", "line 5", "line 6", "line 7", "line 8"]
    assert "'NORWAY'" in problems[0] and "gold_queue" in problems[1]
    assert "already on line 3" in problems[2] and "free_lunch" in problems[3]
    assert sr.check_routing() == problems


def test_check_routing_knows_the_rule_base_clauses(routing_copy):
    with routing_copy.open("a", encoding="utf-8") as out:
        out.write("rules:9.9,NO,,\nrules:4.1.1,NO,,\n")
    problems = sr.check_routing()
    assert len(problems) == 2
    assert "no clause 'rules:9.9'" in problems[0]
    assert "rules:4.1.1 names no paid service" in problems[1]


def test_services_and_queues_come_from_the_database_rule_base(database_url, tmp_path, routing_copy):
    """Not from services.yml behind the rule base's back: a rule base loaded with
    another queue for premium_support routes there; the files still say otherwise."""
    source = copy_rulebase(tmp_path / "rulebase")
    edit_entry(
        source / "services.yml",
        "services",
        "premium_support",
        lambda s: s.update(queue="premium_desk"),
    )
    rulebase.load(database_url, directory=source)
    text = routing_copy.read_text(encoding="utf-8")  # every premium_support row's queue
    routing_copy.write_text(text.replace(",premium_support,", ",premium_desk,"), "utf-8")

    assert "premium_desk" in sr.queues(database_url)
    assert "premium_desk" not in sr.queues()  # the empty default database: the files
    assert sr.route("premium_support", "NO", url=database_url).queue == "premium_desk"
    with pytest.raises(sr.RoutingError, match="premium_desk"):
        sr.route("premium_support", "NO")
    assert file_form(database_url).queue == "premium_desk"
    assert sr.check_routing(url=database_url) == []


def test_a_service_only_the_database_rule_base_has_is_known_there(database_url, tmp_path):
    source = copy_rulebase(tmp_path / "rulebase")
    services = yaml.safe_load((source / "services.yml").read_text(encoding="utf-8"))
    hunting = {**services["services"][0], "id": "threat_hunting", "queue": "hunting"}
    services["services"].append(hunting)
    (source / "services.yml").write_text(yaml.safe_dump(services, allow_unicode=True), "utf-8")
    rulebase.load(database_url, directory=source)

    assert sr.service_ids(database_url)[-1] == "threat_hunting"
    assert sr.queues(database_url)[-1] == "hunting"
    assert sr.validate_field("service", "Threat_Hunting", url=database_url) == (
        "threat_hunting",
        None,
    )
    assert sr.validate_field("service", "threat_hunting") == (None, "service_unknown")
    with pytest.raises(sr.UnknownService):
        sr.route("threat_hunting", "NO")
    route = sr.route("threat_hunting", "NO", url=database_url)  # no row for it: not offered
    assert (route.offered, route.alternatives) == (
        False,
        ("professional_services", "premium_support", "incident_response", "support_renewal"),
    )
