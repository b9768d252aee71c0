"""{{name}}: a harness tool written in Python. Build it with `host plugins build` (see README.md)."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types


class ToolPlugin(exports.ToolPlugin):
    def describe(self) -> types.Descriptor:
        schema = {"type": "object", "properties": {"name": {"type": "string"}}}
        return types.Descriptor(
            name="{{name}}",
            summary="Greets someone by name.",
            input_schema=json.dumps(schema),
        )

    def invoke(self, input: types.StepInput) -> types.ToolOutput:
        # The step's input: the workflow's `input` merged with the run's parameters.
        try:
            params = json.loads(input.input or "{}")
        except ValueError as e:
            raise Err(types.PluginError_InvalidInput(f"input is not JSON: {e}"))
        if not isinstance(params, dict):
            raise Err(types.PluginError_InvalidInput("input must be a JSON object"))
        greeting = f"Hello, {params.get('name', 'world')}!"
        host.log(host.Level.INFO, greeting)
        # To propose a file, grant its prefix in plugin.toml (`[grants] writes`)
        # and add types.ProposedWrite(path="reports/hello.md", contents=b"...").
        return types.ToolOutput(output=json.dumps({"greeting": greeting}), writes=[])
