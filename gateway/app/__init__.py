"""The composition root of `gatekeeper serve`: it wires the stages together and runs listener,
HTTP and delivery (docs/architecture.md). The adapters sit on the pipeline; this sits on them."""

from gateway.app.parts import Gateway
from gateway.app.run import serve, start, stop

__all__ = ["Gateway", "serve", "start", "stop"]
