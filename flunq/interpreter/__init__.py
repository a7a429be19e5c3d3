"""The pure, deterministic interpreter of Serverless Workflow DSL 1.0 (DESIGN §2).

``advance(definition, state, fact, env) -> Step(state, commands, events, applied)``.
It performs no I/O and imports nothing from the bus, store, roles or API.
"""

from flunq.interpreter.definition import Definition
from flunq.interpreter.execution import Step, advance
from flunq.interpreter.machine import Env
from flunq.interpreter.state import ExecutionState, dump_state, load_state

__all__ = ["Definition", "Env", "ExecutionState", "Step", "advance", "dump_state", "load_state"]
