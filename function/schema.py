"""OpenAPI v3 (structural, as CRDs need it) from the pydantic models.

The Input CRD and the example XRDs are generated from the models that validate
requests, so the API users see and the API the function enforces cannot drift.
"""

from typing import Any

from pydantic import BaseModel

_KEPT = (
    "type",
    "description",
    "default",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
)


def openapi_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model as a structural OpenAPI v3 object schema: no $ref, anyOf or titles."""
    schema = model.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})
    return _convert(schema, defs)


def _convert(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    node = _resolve(node, defs)
    out = {key: node[key] for key in _KEPT if key in node}
    if "const" in node:
        out |= {"type": "string", "enum": [node["const"]]}
    if "properties" in node:
        out["type"] = "object"
        out["properties"] = {
            name: _convert(prop, defs) for name, prop in node["properties"].items()
        }
        if node.get("required"):
            out["required"] = sorted(node["required"])
        # Objects default to {} so that the API server applies their nested defaults.
        for prop in out["properties"].values():
            if prop.get("type") == "object" and "properties" in prop and "default" not in prop:
                prop["default"] = {}
    elif isinstance(node.get("additionalProperties"), dict):
        out["type"] = "object"
        out["additionalProperties"] = _convert(node["additionalProperties"], defs)
    if "items" in node:
        out["items"] = _convert(node["items"], defs)
    return out


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline $ref and drop the null branch of Optional fields, keeping the field's own keys."""
    own = {k: v for k, v in node.items() if k not in ("$ref", "anyOf", "allOf", "title")}
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        return _resolve(target, defs) | own
    for key in ("anyOf", "allOf"):
        branches = [b for b in node.get(key, ()) if b.get("type") != "null"]
        if len(branches) == 1:
            merged = _resolve(branches[0], defs) | own
            if merged.get("default", 0) is None:
                del merged["default"]
            return merged
    if own.get("default", 0) is None:
        del own["default"]
    return own


def prune(schema: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """A copy of schema without the dotted property paths (fields one cloud lacks)."""
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {}
        for name, prop in schema["properties"].items():
            if name in paths:
                continue
            nested = tuple(p.split(".", 1)[1] for p in paths if p.startswith(f"{name}."))
            out["properties"][name] = prune(prop, nested) if nested else prop
    return out
