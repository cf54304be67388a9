"""ComfyUI workflows: load one (the shipped default or the user's export), check it is in API
format, and fill in the job's values, by ``{{placeholder}}`` strings and/or a node mapping.

API format is ``{node_id: {"class_type": ..., "inputs": {...}}}`` (ComfyUI's "Save (API
Format)" / "Export (API)"). The UI format (``{"nodes": [...], "links": [...]}``) cannot be
queued; it is refused with the hint to export in API format.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import WorkflowInvalid

__all__ = ["DEFAULT_WORKFLOW", "Workflow", "fill", "load_workflow", "output_node", "parse_workflow"]

Workflow = dict[str, dict[str, Any]]
DEFAULT_WORKFLOW = "comfyui_default.json"
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_EXPORT_HINT = (
    "export it in API format: in ComfyUI, Workflow → Export (API) (older versions: enable "
    "'Dev mode options' in the settings, then 'Save (API Format)')"
)


def load_workflow(path: Path | None) -> Workflow:
    """The workflow in ``path`` (None: the shipped default), checked."""
    if path is None:
        text = resources.files(__package__).joinpath("workflows", DEFAULT_WORKFLOW).read_text(
            encoding="utf-8")
        where = "the default workflow"
    else:
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise WorkflowInvalid(f"Cannot read the ComfyUI workflow {where}: {exc}.") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise WorkflowInvalid(f"The ComfyUI workflow {where} is not JSON ({exc}).") from None
    return parse_workflow(data, where)


def parse_workflow(data: object, where: str = "the workflow") -> Workflow:
    """``data`` as an API-format workflow; the UI format and anything else are refused."""
    if isinstance(data, dict) and isinstance(data.get("nodes"), list) and "links" in data:
        raise WorkflowInvalid(
            f"The ComfyUI workflow {where} is in the UI format, which cannot be queued; "
            f"{_EXPORT_HINT}."
        )
    if isinstance(data, dict) and isinstance(data.get("prompt"), dict):
        data = data["prompt"]  # a /prompt body saved whole
    if not isinstance(data, dict) or not data:
        raise WorkflowInvalid(f"The ComfyUI workflow {where} is not an API-format workflow; "
                              f"{_EXPORT_HINT}.")
    for node_id, node in data.items():
        if (not isinstance(node, dict) or not isinstance(node.get("class_type"), str)
                or not isinstance(node.get("inputs"), dict)):
            raise WorkflowInvalid(
                f"Node {node_id} of the ComfyUI workflow {where} has no class_type/inputs; "
                f"{_EXPORT_HINT}.", node=str(node_id))
    return {str(k): v for k, v in data.items()}


def _substitute(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value.strip())
        if whole and whole.group(1) in values:
            return values[whole.group(1)]  # keeps the type: an int stays an int
        return _PLACEHOLDER.sub(
            lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), value)
    if isinstance(value, list):
        return [_substitute(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, values) for key, item in value.items()}
    return value


def fill(workflow: Workflow, values: Mapping[str, Any],
         nodes: Sequence[tuple[str, str]] = ()) -> Workflow:
    """A copy of ``workflow`` with ``values`` put in: ``{{role}}`` placeholders anywhere, then
    each ``(role, "node_id.input")`` of ``nodes``. A mapping to a missing node is refused."""
    filled: Workflow = _substitute(copy.deepcopy(workflow), values)
    for role, target in nodes:
        if role == "output" or role not in values:
            continue
        node_id, _, input_name = target.partition(".")
        node = filled.get(node_id)
        if node is None:
            raise WorkflowInvalid(
                f"FLYER_COMFYUI_NODES maps {role} to node {node_id}, which the workflow does not "
                f"have (nodes: {', '.join(sorted(filled, key=_node_order))}).", node=node_id)
        node["inputs"][input_name] = values[role]
    left = sorted({m.group(1) for m in _PLACEHOLDER.finditer(json.dumps(filled))})
    if left:
        raise WorkflowInvalid(
            f"The ComfyUI workflow has placeholders nobody fills: {', '.join(left)}; "
            "known ones: " + ", ".join(sorted(values)) + ".")
    return filled


def output_node(workflow: Workflow, nodes: Sequence[tuple[str, str]] = ()) -> str | None:
    """The node whose images are the backgrounds: the mapped ``output``, else None (all)."""
    for role, target in nodes:
        if role == "output":
            return target.partition(".")[0]
    return None


def _node_order(node_id: str) -> tuple[int, str]:
    return (int(node_id), "") if node_id.isdigit() else (1 << 30, node_id)
