"""One handler per task type; see :mod:`flunq.interpreter.machine` for the hooks."""

from __future__ import annotations

from flunq.dsl import model as m
from flunq.interpreter.tasks.call import (
    FunctionHandler,
    GenericCallHandler,
    HttpHandler,
    OpenApiHandler,
)
from flunq.interpreter.tasks.do import DoHandler
from flunq.interpreter.tasks.emit import EmitHandler
from flunq.interpreter.tasks.for_ import ForHandler
from flunq.interpreter.tasks.fork import ForkHandler
from flunq.interpreter.tasks.listen import ListenHandler
from flunq.interpreter.tasks.raise_ import RaiseHandler
from flunq.interpreter.tasks.run import RunHandler
from flunq.interpreter.tasks.set import SetHandler
from flunq.interpreter.tasks.switch import SwitchHandler
from flunq.interpreter.tasks.try_ import TryHandler
from flunq.interpreter.tasks.wait import WaitHandler

_generic = GenericCallHandler()

HANDLERS = {
    m.CallHttp: HttpHandler(),
    m.CallOpenApi: OpenApiHandler(),
    m.CallGrpc: _generic,
    m.CallAsyncApi: _generic,
    m.CallA2A: _generic,
    m.CallMcp: _generic,
    m.CallFunction: FunctionHandler(),
    m.DoTask: DoHandler(),
    m.EmitTask: EmitHandler(),
    m.ForTask: ForHandler(),
    m.ForkTask: ForkHandler(),
    m.ListenTask: ListenHandler(),
    m.RaiseTask: RaiseHandler(),
    m.RunTask: RunHandler(),
    m.SetTask: SetHandler(),
    m.SwitchTask: SwitchHandler(),
    m.TryTask: TryHandler(),
    m.WaitTask: WaitHandler(),
}
