"""The fields a manifest names, held against what the org's describe says exists (catalogue
M-21).

The static catalogue is the vendors' standard schema plus the custom fields mopsgate expects
(``Consent_Evidence__c``, ``Lead_Score__c`` …); a real org may lack one. A rule naming a field
the org does not have would silently grant or withhold nothing, and the consent-evidence field
missing would block every person in an express-consent country without saying why. So at
start-up every production connector's person objects are described and each field the
manifest names (in rules, ``pii``, the consent-evidence field) is looked up; one that is
missing stops the start, naming where the manifest names it. Never "fall back to all fields".
"""

from __future__ import annotations

from collections.abc import Mapping

from mopsgate.governance.manifest_model import WILDCARD, AllowRule, Manifest


def named_fields(manifest: Manifest, connector: str) -> dict[str, dict[str, str]]:
    """person object -> field -> where the manifest names it, for fields the static
    catalogue places on that object."""
    cat = manifest.catalogue
    objects = cat.person_objects.get(connector, ())
    out: dict[str, dict[str, str]] = {o: {} for o in objects}

    def name(objs: tuple[str, ...] | list[str], field: str, where: str) -> None:
        for obj in objs:
            known = cat.objects.get(connector, {}).get(obj)
            if field != WILDCARD and (known is None or field in known.fields):
                out[obj].setdefault(field, where)

    for rule in manifest.rules:
        if connector not in rule.connectors and WILDCARD not in rule.connectors:
            continue
        objs = objects if WILDCARD in rule.objects else [o for o in rule.objects if o in out]
        fields = (
            (*rule.read_fields, *rule.write_fields, *rule.deny_fields)
            if isinstance(rule, AllowRule)
            else rule.fields
        )
        for field in fields:
            name(objs, field, f"rule {rule.id!r}")
    for field in manifest.pii.get(connector, ()):
        name(objects, field, f"pii.{connector}")
    cfg = manifest.connectors.get(connector)
    for obj in objects:
        evidence = (cfg.consent_evidence_field if cfg else None) or cat.field_for(
            connector, obj, "consent_evidence"
        )
        if evidence:
            name((obj,), evidence, "the consent-evidence field (express consent)")
    return out


def missing_fields(
    manifest: Manifest, connector: str, described: Mapping[str, set[str]]
) -> list[str]:
    """One line per field the manifest names that the org's describe lacks."""
    problems: list[str] = []
    for obj, fields in named_fields(manifest, connector).items():
        have = described.get(obj)
        if have is None:
            continue
        for field, where in sorted(fields.items()):
            if field not in have:
                problems.append(
                    f"{where} names {connector} {obj}.{field}, which this org does not have "
                    "(create the field, or take it out of the manifest)"
                )
    return problems
