"""``OPTIONS`` on any route: 204 No Content with ``Allow``, no HTML.

Flask answers ``OPTIONS`` on every route itself with 200 and an empty
``text/html`` body (``Flask.make_default_options_response``), the one answer of
the API that would not be JSON; Flask's documentation says to subclass to change it.
"""

from __future__ import annotations

from flask import Flask, Response


class App(Flask):
    """Flask, answering ``OPTIONS`` with 204, no body and ``Allow`` listing the route's methods, sorted
    (RFC 9110, section 9.3.7: the answer to OPTIONS names the target's options, e.g. in ``Allow``)."""

    def make_default_options_response(self) -> Response:
        """204 with ``Allow``, as a 405 on the same route would list it (``service.errors``)."""
        default = super().make_default_options_response()
        response = self.response_class(status=204)
        response.headers["Allow"] = ", ".join(sorted(default.allow))
        del response.headers["Content-Type"]
        return response
