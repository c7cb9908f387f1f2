"""What the OpenAI Chat Completions API refuses with a 400, checked by the stand-in on every
request: tool names and JSON schemas (including the strict-mode rules, since
livekit-plugins-openai sends `strict: true` tools), message roles, and tool-call ids that
must match tool outputs. Each rule is one the API enforces; the messages paraphrase its own.

Sources: platform.openai.com/docs/guides/function-calling ("strict mode") and
/docs/guides/structured-outputs ("supported schemas"), and the API's 400 answers."""

from __future__ import annotations

import re
from typing import Any

ROLES = {"system", "developer", "user", "assistant", "tool"}
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_TOOLS = 128
MAX_DESCRIPTION = 1024
JSON_TYPES = {"string", "number", "integer", "boolean", "object", "array", "null"}
# Structured outputs: the keywords a strict schema may use; anything else is refused
# (e.g. `default`, `oneOf`, `minLength`, `patternProperties`, `uniqueItems`).
STRICT_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "const",
    "anyOf", "description", "title", "$ref", "$defs", "definitions",
    "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "minItems", "maxItems",
}  # fmt: skip
STRICT_MAX_DEPTH = 10
STRICT_MAX_PROPERTIES = 5000


def request_errors(body: dict[str, Any]) -> list[str]:
    """Everything the API would refuse in this request body (empty: it would accept it)."""
    errors: list[str] = []
    if not isinstance(body.get("model"), str) or not body["model"]:
        errors.append("'model' is required")
    tools = body.get("tools")
    names = _tools_errors(tools, errors) if tools is not None else set()
    if not tools:
        for key in ("tool_choice", "parallel_tool_calls"):
            if key in body:
                errors.append(f"'{key}' is only allowed when 'tools' are specified")
    else:
        _tool_choice_errors(body.get("tool_choice"), names, errors)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        errors.append("'messages' must be a non-empty array")
    else:
        errors.extend(messages_errors(messages))
    return errors


def _tools_errors(tools: Any, errors: list[str]) -> set[str]:
    names: set[str] = set()
    if not isinstance(tools, list) or not tools:
        errors.append("'tools' must be a non-empty array when given")
        return names
    if len(tools) > MAX_TOOLS:
        errors.append(f"'tools': at most {MAX_TOOLS} tools")
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        where = f"tools[{i}]({fn.get('name') if isinstance(fn, dict) else '?'})"
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(fn, dict):
            errors.append(f"{where}: must be {{'type': 'function', 'function': {{...}}}}")
            continue
        name = fn.get("name")
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            errors.append(f"{where}.function.name: {name!r} does not match ^[a-zA-Z0-9_-]{{1,64}}$")
        elif name in names:
            errors.append(f"{where}.function.name: duplicate tool name {name!r}")
        else:
            names.add(name)
        description = fn.get("description", "")
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            errors.append(f"{where}.function.description: string longer than {MAX_DESCRIPTION}")
        errors.extend(function_schema_errors(fn, where=f"{where}.function"))
    return names


def function_schema_errors(fn: dict[str, Any], *, where: str = "function") -> list[str]:
    """The `parameters` of one function: an object schema; under `strict: true` it must
    also satisfy the structured-outputs subset."""
    params = fn.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(params, dict) or params.get("type") != "object":
        return [f"{where}.parameters: the root schema must be of type 'object'"]
    if "anyOf" in params:
        return [f"{where}.parameters: the root schema must not be 'anyOf'"]
    errors: list[str] = []
    _schema_errors(params, f"{where}.parameters", errors)
    if fn.get("strict") is True:
        counter = [0]
        _strict_errors(params, params, f"{where}.parameters", 1, counter, errors)
        if counter[0] > STRICT_MAX_PROPERTIES:
            errors.append(f"{where}.parameters: more than {STRICT_MAX_PROPERTIES} properties")
    return errors


def _schema_errors(schema: Any, where: str, errors: list[str]) -> None:
    """Plain JSON Schema sanity the API checks in either mode."""
    if not isinstance(schema, dict):
        errors.append(f"{where}: a schema must be an object")
        return
    types = schema.get("type")
    for t in types if isinstance(types, list) else [types] if types is not None else []:
        if t not in JSON_TYPES:
            errors.append(f"{where}: unknown type {t!r}")
    if "enum" in schema and (not isinstance(schema["enum"], list) or not schema["enum"]):
        errors.append(f"{where}: 'enum' must be a non-empty array")
    required = schema.get("required", [])
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        errors.append(f"{where}.properties: must be an object")
        props = {}
    if not isinstance(required, list) or any(r not in props for r in required):
        errors.append(f"{where}.required: names a property that is not in 'properties'")
    for key, sub in props.items():
        _schema_errors(sub, f"{where}.properties.{key}", errors)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _schema_errors(schema[key], f"{where}.{key}", errors)
    for i, sub in enumerate(schema.get("anyOf", []) or []):
        _schema_errors(sub, f"{where}.anyOf[{i}]", errors)


def _strict_errors(
    schema: dict[str, Any],
    root: dict[str, Any],
    where: str,
    depth: int,
    counter: list[int],
    errors: list[str],
) -> None:
    if depth > STRICT_MAX_DEPTH:
        errors.append(f"{where}: nested deeper than {STRICT_MAX_DEPTH} levels")
        return
    for key in schema:
        if key not in STRICT_KEYWORDS:
            errors.append(f"{where}: '{key}' is not permitted in a strict schema")
    if "$ref" in schema and len(schema) > 1:
        errors.append(f"{where}: '$ref' cannot have sibling keywords in a strict schema")
    if "type" not in schema and not ({"anyOf", "$ref", "enum", "const"} & schema.keys()):
        errors.append(f"{where}: a strict schema needs a 'type'")
    types = schema.get("type")
    type_list = types if isinstance(types, list) else [types]
    if "enum" in schema and isinstance(schema["enum"], list) and types is not None:
        for value in schema["enum"]:
            if not any(_is_of_type(value, t) for t in type_list):
                errors.append(f"{where}.enum: {value!r} is not of type {types!r}")
    if "object" in type_list or "properties" in schema:
        props = schema.get("properties", {}) or {}
        counter[0] += len(props)
        if schema.get("additionalProperties") is not False:
            errors.append(f"{where}: 'additionalProperties' must be false for every object")
        if set(schema.get("required", [])) != set(props):
            missing = sorted(set(props) - set(schema.get("required", [])))
            errors.append(f"{where}: every property must be in 'required' (missing {missing})")
        for key, sub in props.items():
            if isinstance(sub, dict):
                _strict_errors(sub, root, f"{where}.properties.{key}", depth + 1, counter, errors)
    if isinstance(schema.get("items"), dict):
        _strict_errors(schema["items"], root, f"{where}.items", depth + 1, counter, errors)
    for i, sub in enumerate(schema.get("anyOf", []) or []):
        if isinstance(sub, dict):
            _strict_errors(sub, root, f"{where}.anyOf[{i}]", depth, counter, errors)
    for defs in ("$defs", "definitions"):
        for name, sub in (schema.get(defs) or {}).items():
            _strict_errors(sub, root, f"{where}.{defs}.{name}", depth, counter, errors)
    ref = schema.get("$ref")
    if isinstance(ref, str) and not _resolves(root, ref):
        errors.append(f"{where}.$ref: {ref!r} does not resolve")


def _is_of_type(value: Any, t: Any) -> bool:
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, str)
    return True


def _resolves(root: dict[str, Any], ref: str) -> bool:
    if not ref.startswith("#/"):
        return False
    node: Any = root
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return isinstance(node, dict)


def _tool_choice_errors(choice: Any, names: set[str], errors: list[str]) -> None:
    if choice is None or choice in ("auto", "none", "required"):
        return
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if name not in names:
            errors.append(f"'tool_choice': function {name!r} is not among 'tools'")
        return
    errors.append(f"'tool_choice': invalid value {choice!r}")


def messages_errors(messages: list[Any]) -> list[str]:
    """Roles, content, and the pairing of assistant tool calls with tool outputs: every
    `tool` message answers a call of the assistant message right before its run of tool
    messages, and every call is answered before anything else is said."""
    errors: list[str] = []
    pending: set[str] = set()  # call ids of the last assistant message not yet answered
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        role = msg.get("role") if isinstance(msg, dict) else None
        if role not in ROLES:
            errors.append(f"{where}.role: {role!r} is not one of {sorted(ROLES)}")
            continue
        if role == "tool":
            call_id = msg.get("tool_call_id")
            if call_id not in pending:
                errors.append(
                    f"{where}: messages with role 'tool' must be a response to a preceding "
                    f"message with 'tool_calls' (tool_call_id {call_id!r})"
                )
            pending.discard(call_id)
            if not isinstance(msg.get("content"), str | list):
                errors.append(f"{where}.content: a tool message needs content")
            continue
        if pending:
            errors.append(
                f"{where}: an assistant message with 'tool_calls' must be followed by tool "
                f"messages responding to each 'tool_call_id' (missing {sorted(pending)})"
            )
            pending = set()
        content = msg.get("content")
        calls = msg.get("tool_calls") if role == "assistant" else None
        if role != "assistant" and "tool_calls" in msg:
            errors.append(f"{where}: only assistant messages may carry 'tool_calls'")
        if calls:
            for j, call in enumerate(calls):
                fn = call.get("function") or {}
                if not call.get("id") or call.get("type") != "function":
                    errors.append(f"{where}.tool_calls[{j}]: needs an 'id' and type 'function'")
                elif not isinstance(fn.get("name"), str) or not isinstance(
                    fn.get("arguments"), str
                ):
                    errors.append(f"{where}.tool_calls[{j}].function: needs name and arguments")
                else:
                    pending.add(call["id"])
        elif not isinstance(content, str | list):
            errors.append(f"{where}.content: expected a string or an array of parts")
    if pending:
        errors.append(
            "an assistant message with 'tool_calls' must be followed by tool messages "
            f"responding to each 'tool_call_id' (missing {sorted(pending)})"
        )
    return errors
