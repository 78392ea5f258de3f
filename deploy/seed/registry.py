"""The seed registry: read the YAML, shape it for each service's admin API (registry, units, console accounts),
mint demo tokens, load it.

``python -m deploy.seed.registry [FILE]`` loads it into running intake and dispatch services.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from deploy import notify_local
from shared.auth import Principal, Role, TokenIssuer
from shared.settings import DEV_ADMIN_TOKEN

DEFAULT_FILE = Path(__file__).with_name("registry.yaml")


def read(path: Path = DEFAULT_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def intake_registry(doc: dict[str, Any]) -> dict[str, Any]:
    """Flatten the tree into the areas / buildings / households of intake's ``PUT /admin/registry``."""
    district, street = doc["district"], doc["street"]
    areas = [
        {"id": district["id"], "kind": "district", "name": district["name"], "parent_id": None},
        {"id": street["id"], "kind": "street", "name": street["name"], "parent_id": district["id"]},
    ]
    areas += [
        {"id": s["id"], "kind": "substation", "name": s["name"], "parent_id": None} for s in doc.get("substations", [])
    ]
    buildings = []
    for community in doc["communities"]:
        areas.append({"id": community["id"], "kind": "community", "name": community["name"], "parent_id": street["id"]})
        areas += [
            {"id": g["id"], "kind": "grid", "name": g["name"], "parent_id": community["id"]} for g in community["grids"]
        ]
        for compound in community["compounds"]:
            areas.append(
                {"id": compound["id"], "kind": "compound", "name": compound["name"], "parent_id": community["id"]}
            )
            buildings += [
                {
                    "id": b["id"],
                    "name": b["name"],
                    "compound_id": compound["id"],
                    "grid_id": b["grid"],
                    "substation_id": b.get("substation"),
                }
                for b in compound["buildings"]
            ]
    households = [
        {
            "id": h["id"],
            "building_id": h["building"],
            "unit_no": h["unit_no"],
            "room": h["room"],
            "resident_name": h.get("resident_name"),
            "phone": h.get("phone"),
            "priority_group": h.get("priority_group"),
        }
        for h in doc.get("households", [])
    ]
    return {"areas": areas, "buildings": buildings, "households": households}


def dispatch_units(doc: dict[str, Any]) -> dict[str, Any]:
    district_id = doc["district"]["id"]
    return {"units": [{**u, "district_id": u.get("district_id", district_id)} for u in doc["units"]]}


def tokens(doc: dict[str, Any], private_key: str) -> dict[str, str]:
    """Demo credentials: a token for every person and unit of the seed, signed with dispatch's private key
    (development only). Service tokens: they name no account, so they end at their expiry, not by revocation."""
    signer = TokenIssuer(private_key)
    ttl = 365 * 24 * 3600
    out = {
        p["sub"]: signer.issue(Principal(role=Role(p["role"]), sub=p["sub"], scope=p["scope"]), ttl_seconds=ttl)
        for p in doc.get("people", [])
    }
    for u in doc["units"]:
        unit = Principal(role=Role.UNIT, sub=u["id"], scope=doc["district"]["id"])
        out[u["id"]] = signer.issue(unit, ttl_seconds=ttl)
    out["admin"] = signer.issue(Principal(role=Role.ADMIN, sub="admin"), ttl_seconds=ttl)
    return out


def dispatch_accounts(doc: dict[str, Any]) -> dict[str, Any]:
    """Console sign-ins of dispatch's ``PUT /admin/accounts`` (development only: the passwords are in the file).
    A unit's account acts as the unit; a person's (``person:``) as that person of ``people``."""
    people = {p["sub"]: p for p in doc.get("people", [])}
    units = {u["id"]: u for u in doc["units"]}
    accounts = []
    for a in doc.get("accounts", []):
        if "unit" in a:
            unit = units[a["unit"]]
            who = {"role": Role.UNIT.value, "sub": unit["id"], "scope": doc["district"]["id"], "name": unit["name"]}
        else:
            person = people[a["person"]]
            who = {"role": person["role"], "sub": person["sub"], "scope": person["scope"], "name": person["name"]}
        accounts.append(
            {
                "username": a["username"],
                "password": a["password"],
                "role": who["role"],
                "sub": who["sub"],
                "scope": who["scope"],
                "display_name": who["name"],
            }
        )
    return {"accounts": accounts}


def load(
    doc: dict[str, Any], *, intake_url: str, dispatch_url: str, admin_token: str, receiver: str | None = None
) -> dict[str, Any]:
    """The registry into intake and dispatch; with ``receiver`` (the local notify receiver's URL), the seed's
    recipients of notifications too, every one of them played by that receiver."""
    headers = {"X-Admin-Token": admin_token}
    with httpx.Client(timeout=30) as client:
        r1 = client.put(f"{intake_url}/admin/registry", json=intake_registry(doc), headers=headers)
        r1.raise_for_status()
        r2 = client.put(f"{dispatch_url}/admin/units", json=dispatch_units(doc), headers=headers)
        r2.raise_for_status()
        r3 = client.put(f"{dispatch_url}/admin/accounts", json=dispatch_accounts(doc), headers=headers)
        r3.raise_for_status()
    loaded = {"intake": r1.json(), "dispatch": {**r2.json(), **r3.json()}}
    if receiver is not None:
        targets = notify_local.load(doc, dispatch_url=dispatch_url, receiver=receiver, admin_token=admin_token)
        loaded["dispatch"]["notify_targets"] = targets
    return loaded


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FILE
    result = load(
        read(path),
        intake_url=os.environ.get("INTAKE_URL", "http://127.0.0.1:8001"),
        dispatch_url=os.environ.get("DISPATCH_URL", "http://127.0.0.1:8002"),
        admin_token=os.environ.get("ADMIN_TOKEN", DEV_ADMIN_TOKEN),
        receiver=os.environ.get("NOTIFY_RECEIVER_URL", "http://127.0.0.1:8006") or None,  # "": no targets
    )
    print(f"登记簿已加载: {result}")


if __name__ == "__main__":
    main()
