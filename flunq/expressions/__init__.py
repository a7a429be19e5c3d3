"""Runtime expressions of the Serverless Workflow DSL: jq (default) and JMESPath.

Wrapping (:func:`is_expression`, :func:`unwrap`): a string is a runtime expression only when
it is, as a whole, ``${ ... }`` -- there is no partial interpolation; build strings with jq
(``${ "Hello \\(.name)" }``). Expression-only fields are also accepted bare
(``.color == "red"``): :func:`evaluate_field` strips an optional wrapper. Value positions are
walked by :func:`evaluate_value`, in ``strict`` mode (only ``${ }`` strings are evaluated)
or ``loose`` mode (every string is tried and kept as it is when it does not evaluate).

Compiling (:func:`compile_expression`) happens once per (text, language); the
:class:`Expression` is then evaluated with ``.`` = the data and the argument variables
passed by name without ``$``: ``context``, ``input``, ``output``, ``secrets``, ``task``,
``workflow``, ``runtime``, ``authorization`` and scoped ones (``item``, ``index``,
``error``...). A variable the expression references but the caller does not give is
``null``.

jq (:mod:`flunq.expressions.jq`): the first result is the value; no result is an error.
Expressions cannot see the environment or files: ``$ENV`` and ``env`` are ``{}``, module
directives are refused, ``halt``/``halt_error``/``input``/``inputs``/``input_filename``
raise an :class:`~flunq.errors.ExpressionError`.

JMESPath (:mod:`flunq.expressions.jmespath`) has no variables of its own: ``$name`` is
rewritten at compile time into ``var('name')``, a custom function returning the argument
variable, so ``items[?id == $item.id]`` works inside filters and projections too.

Every failure (syntax, evaluation, no result) raises :class:`~flunq.errors.ExpressionError`
carrying the engine's own message and the expression text; ``problem()`` gives the DSL's
``expression`` error (status 400). Results are plain JSON values (integers stay ``int``).
"""

from flunq.expressions.expression import Expression, clear_cache, compile_expression
from flunq.expressions.text import is_expression, unwrap
from flunq.expressions.values import evaluate_field, evaluate_value, find_expressions

__all__ = [
    "Expression",
    "clear_cache",
    "compile_expression",
    "evaluate_field",
    "evaluate_value",
    "find_expressions",
    "is_expression",
    "unwrap",
]
