"""The demo county as the contract README describes it, read through the API with the
sample accounts, as a client sees it."""

from __future__ import annotations

from typing import Any

from db.demo import load
from gongjian import clock
from tests.support import ZONE, Api

PASSWORD = "demo-password-1"


async def _login(api: Api, username: str) -> str:
    result = await api.op("Login", {"username": username, "password": PASSWORD})
    login = result["data"]["login"]
    assert login["userErrors"] == [], (username, login["userErrors"])
    token: str = login["token"]
    return token


async def _data(api: Api, name: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    result = await api.op(name, variables, token=token)
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]
    return data


async def test_county_figures_and_sample_accounts(committed_db: dict[str, Any]) -> None:
    assert await load.run(committed_db["url"], PASSWORD, today=clock.today(ZONE))
    api: Api = committed_db["api"]
    tokens = {
        name: await _login(api, name) for name in ("admin", "staff", "head", "cadre", "resident", "neighbour", "unit")
    }

    admin = await _data(api, "Viewer", {}, tokens["admin"])
    roles = admin["viewer"]["roles"]
    assert [r["role"] for r in roles] == ["COUNTY_ADMIN"] and roles[0]["scope"]["name"] == "佛坪县"
    county = roles[0]["scope"]["id"]

    statistics = (await _data(api, "Statistics", {"areaId": county}, tokens["admin"]))["statistics"]
    assert {
        k: statistics[k]
        for k in (
            "partyBranches",
            "functionalBranches",
            "buildingHeads",
            "adoptingUnits",
            "adoptedAreas",
            "pairedCadres",
            "pairedHouseholds",
            "households",
            "parkingSpacesOpened",
            "renovatedCompounds",
        )
    } == {
        "partyBranches": 3,
        "functionalBranches": 15,
        "buildingHeads": 162,
        "adoptingUnits": 75,
        "adoptedAreas": 218,
        "pairedCadres": 830,
        "pairedHouseholds": 2483,
        "households": 2483,
        "parkingSpacesOpened": 464,
        "renovatedCompounds": 45,
    }
    assert statistics["activitiesHeld"] >= 40
    removed = await api.ok(
        "query($id: ID!) { statistics(areaId: $id) { illegalStructuresRemoved } }",
        {"id": county},
        token=tokens["admin"],
    )
    assert removed["statistics"]["illegalStructuresRemoved"] >= 30
    assert statistics["ordersCompleted"] > 0 and 1 <= statistics["averageRating"] <= 5

    coverage = (await _data(api, "Coverage", {"areaId": county}, tokens["admin"]))["coverage"]
    assert coverage["buildings"] == coverage["buildingsWithHead"] == coverage["adoptedBuildings"] == 162
    assert coverage["households"] == coverage["pairedHouseholds"] == 2483
    assert coverage["uncoveredHouseholds"]["totalCount"] == 0

    # resident: a household in the staff's community, whose building the head heads
    resident = (await _data(api, "Viewer", {}, tokens["resident"]))["viewer"]
    household = resident["person"]["household"]
    chain = (await _data(api, "ResponsibilityChain", {"householdId": household["id"]}, tokens["resident"]))["node"]
    levels = {link["level"]: link for link in chain["responsibilityChain"]}
    head = (await _data(api, "Viewer", {}, tokens["head"]))["viewer"]
    assert levels["BUILDING"]["responsible"]["id"] == head["person"]["id"]
    assert (
        head["roles"][0]["role"] == "BUILDING_HEAD"
        and head["roles"][0]["scope"]["id"] == levels["BUILDING"]["area"]["id"]
    )
    staff = (await _data(api, "Viewer", {}, tokens["staff"]))["viewer"]
    assert staff["roles"][0]["role"] == "COMMUNITY_STAFF"
    assert staff["roles"][0]["scope"]["id"] == levels["COMMUNITY"]["area"]["id"]

    # cadre: paired with the resident's household and not the neighbour's
    pairings = (await _data(api, "MyPairings", {}, tokens["cadre"]))["viewer"]["person"]["pairings"]
    paired = {edge["node"]["household"]["id"] for edge in pairings["edges"]}
    neighbour = (await _data(api, "Viewer", {}, tokens["neighbour"]))["viewer"]
    assert household["id"] in paired
    assert neighbour["person"]["household"]["id"] not in paired
    neighbour_chain = (
        await _data(
            api, "ResponsibilityChain", {"householdId": neighbour["person"]["household"]["id"]}, tokens["neighbour"]
        )
    )["node"]["responsibilityChain"]
    neighbour_levels = {link["level"]: link["area"] for link in neighbour_chain}
    assert neighbour_levels["COMMUNITY"]["id"] == levels["COMMUNITY"]["area"]["id"]
    assert neighbour_levels["BUILDING"]["id"] != levels["BUILDING"]["area"]["id"]

    # unit: UNIT_ADMIN of the unit the cadre holds a post in
    unit = (await _data(api, "Viewer", {}, tokens["unit"]))["viewer"]["roles"][0]
    assert unit["role"] == "UNIT_ADMIN"
    members = (await _data(api, "OrganisationDetail", {"id": unit["scope"]["id"]}, tokens["unit"]))["node"]["members"]
    cadre = (await _data(api, "Viewer", {}, tokens["cadre"]))["viewer"]
    assert cadre["person"]["id"] in {edge["node"]["person"]["id"] for edge in members["edges"]}

    # the seed's 45 renovated compounds are those since 2021 (older phases come on top)
    since_2021 = {"areaId": county, "from": "2021-01-01", "to": clock.today(ZONE).isoformat()}
    period = (await _data(api, "StatisticsForPeriod", since_2021, tokens["admin"]))["statistics"]
    assert period["renovatedCompounds"] == 45 and period["activitiesHeld"] >= 40

    # cadre: registered (CONFIRMED) with the resident's community, so orders can be dispatched to them
    registrations = (await _data(api, "Registrations", {"status": "CONFIRMED"}, tokens["cadre"]))["registrations"]
    assert levels["COMMUNITY"]["area"]["id"] in {e["node"]["community"]["id"] for e in registrations["edges"]}

    # resident: finds the paired cadre, with the cadre's phone and unit
    mine = (await _data(api, "MyHousehold", {}, tokens["resident"]))["viewer"]["person"]["household"]
    assert cadre["person"]["id"] in {p["cadre"]["id"] for p in mine["pairings"]}
    assert all(p["cadre"]["phone"] and p["unit"] for p in mine["pairings"])
